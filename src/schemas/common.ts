import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ID_FORMAT, ID_MAX_LENGTH, ID_PATTERN } from '../ratings/validate';

export const ErrorBodySchema = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable code, RECO_ERR_*' }),
    error: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  { $id: 'ErrorBody', title: 'ErrorBody' },
);

export const ExternalId = (description: string) =>
  Type.String({ minLength: 1, maxLength: ID_MAX_LENGTH, pattern: ID_PATTERN, format: ID_FORMAT, description });

/** limit/offset paging, one shape for every listing. */
export const pageQuery = (defaultLimit: number) => ({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: defaultLimit })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});

/** Server-assigned IDs of jobs and models. */
export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

export const UserIdParam = Type.Object({ userId: ExternalId('Caller-assigned user ID') });
export const ItemIdParam = Type.Object({ itemId: ExternalId('Caller-assigned item ID') });

const errorRef = Type.Ref('ErrorBody');

/** Adds the error answers a route can give, all with the one error body shape. */
export function responses<T extends Record<number, TSchema>>(ok: T, errorStatuses: number[] = []) {
  const out: Record<number, TSchema> = { ...ok };
  for (const s of [400, 401, 500, ...errorStatuses]) out[s] = errorRef;
  return out;
}

export type ErrorBodyT = Static<typeof ErrorBodySchema>;
