import { get } from './api';

export interface SchemaNode {
  type?: string;
  enum?: unknown[];
  anyOf?: SchemaNode[];
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
  description?: string;
  default?: unknown;
}

interface Operation {
  parameters?: { name: string; in: string; schema: SchemaNode }[];
  requestBody?: { content: Record<string, { schema: SchemaNode }> };
}

let spec: Promise<{ paths: Record<string, Record<string, Operation>> }> | null = null;

/** An operation of the spec the service serves (GET /openapi.json, read once): forms offer exactly what the API takes. */
export async function operation(path: string, method: string): Promise<Operation> {
  spec ??= get('/openapi.json');
  try {
    return (await spec).paths[path][method];
  } catch (err) {
    spec = null;
    throw err;
  }
}

/** The values of an enum, or of a union of enums (TypeBox writes literal unions as anyOf); null for anything else. */
export function choices(s: SchemaNode): string[] | null {
  const branches = s.anyOf ?? [s];
  if (!branches.every((b) => b.enum)) return null;
  return branches.flatMap((b) => (b.enum ?? []).map(String));
}
