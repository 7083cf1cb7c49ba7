import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BucketScheme } from './buckets';
import { CodedError } from './coded-error';
import { Ensemble, IDENTITY_BLEND, type Blend } from './ensemble';
import type { KindRegistry } from './kinds';
import type { MemberDims, MemberKindName } from './member';
import type { RatingSummary } from './summary';

export const CHECKPOINT_FORMAT = 'nnmf-recommender/checkpoint-v2';
/** Single-network NNMF checkpoints written before ensembles: still loaded. */
const CHECKPOINT_FORMAT_V1 = 'nnmf-recommender/checkpoint-v1';

/** One member's folder inside the checkpoint, with the SHA-256 of every file in it. */
export interface MemberEntry {
  kind: MemberKindName;
  path: string;
  settings: Record<string, unknown>;
  files: Record<string, string>;
}

/** meta.json: what a server needs besides the members' weights. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  /** 'ensemble' or the one member's kind. */
  kind: string;
  dims: MemberDims;
  members: MemberEntry[];
  blend: Blend;
  userIds: string[];
  itemIds: string[];
  scale: { min: number; max: number };
  summary: RatingSummary;
  engine: string;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  fingerprint: string;
  /** The held-out scheme the members were trained under (null: unknown, e.g. a v1 checkpoint). */
  buckets: BucketScheme | null;
  createdAt: string;
}

export type CheckpointFields = Omit<CheckpointMeta, 'format' | 'dims' | 'members' | 'blend'>;

/** A checkpoint that cannot be served as it is: missing, truncated or altered files, an unknown format. */
export class CheckpointError extends CodedError {
  readonly code = 'RECO_ERR_MODEL_BROKEN';
}

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The full meta.json for an ensemble and the caller's fields (without file hashes). */
export function checkpointMeta(model: Ensemble, fields: CheckpointFields): CheckpointMeta {
  return {
    format: CHECKPOINT_FORMAT,
    dims: model.dims,
    members: model.members.map((m, k) => ({ kind: m.kind, path: `members/${k}-${m.kind}`, settings: m.settings, files: {} })),
    blend: model.blend,
    ...fields,
  };
}

/**
 * Writes every member's files under members/ and then meta.json (with the members' file
 * hashes) into `dir`, which must not exist yet. The caller writes to a temporary name and
 * renames, so a crash never leaves a half-written model in place.
 */
export async function saveCheckpoint(dir: string, model: Ensemble, fields: CheckpointFields): Promise<CheckpointMeta> {
  const meta = checkpointMeta(model, fields);
  fs.mkdirSync(dir, { recursive: false });
  for (const [k, entry] of meta.members.entries()) {
    const sub = path.join(dir, entry.path);
    fs.mkdirSync(sub, { recursive: true });
    await model.members[k].save(sub);
    for (const f of fs.readdirSync(sub).sort()) entry.files[f] = sha256(path.join(sub, f));
  }
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
  return meta;
}

function readMeta(dir: string): CheckpointMeta {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new CheckpointError(`meta.json unreadable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (raw.format === CHECKPOINT_FORMAT) return raw as unknown as CheckpointMeta;
  if (raw.format === CHECKPOINT_FORMAT_V1) {
    // One NNMF network at the folder's top, its architecture in `dims`; no file hashes were kept.
    const dims = raw.dims as { nUsers: number; nItems: number; d: number; dp: number; h1: number; h2: number; h3: number; useBias: boolean };
    const settings = { d: dims.d, dp: dims.dp, hidden: [dims.h1, dims.h2, dims.h3], useBias: dims.useBias };
    return {
      ...(raw as unknown as CheckpointMeta),
      format: CHECKPOINT_FORMAT,
      kind: 'nnmf',
      dims: { nUsers: dims.nUsers, nItems: dims.nItems },
      members: [{ kind: 'nnmf', path: '.', settings, files: {} }],
      blend: IDENTITY_BLEND,
      buckets: null,
    };
  }
  throw new CheckpointError(`unsupported checkpoint format ${String(raw.format)}`);
}

/** Reads and verifies a checkpoint: every hashed file must match before any weight is used. */
export async function loadCheckpoint(dir: string, kinds: KindRegistry): Promise<{ meta: CheckpointMeta; model: Ensemble }> {
  const meta = readMeta(dir);
  const members = [];
  for (const entry of meta.members) {
    const sub = path.join(dir, entry.path);
    for (const [file, want] of Object.entries(entry.files)) {
      let got: string;
      try {
        got = sha256(path.join(sub, file));
      } catch {
        throw new CheckpointError(`${entry.path}/${file} is missing`);
      }
      if (got !== want) throw new CheckpointError(`${entry.path}/${file} does not match its recorded SHA-256`);
    }
    const kind = kinds.get(entry.kind);
    if (!kind) throw new CheckpointError(`model kind ${entry.kind} cannot be loaded in this installation`);
    try {
      members.push(await kind.load(sub, entry.settings, meta.dims));
    } catch (err) {
      throw new CheckpointError(`${entry.path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { meta, model: new Ensemble(members, meta.blend, meta.scale) };
}
