import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CheckpointMeta } from './checkpoint';

/**
 * The weights of each model kind that belong to one user, by layer name: a row of the table
 * (axis 0), or a column of it (axis 1: I-AutoRec's decoder kernel is hidden × users).
 */
const USER_WEIGHTS: Record<string, { layers: string[]; axis: 0 | 1 }[]> = {
  nnmf: [{ layers: ['U', 'U_prime', 'user_bias'], axis: 0 }],
  mf: [{ layers: ['P', 'user_bias'], axis: 0 }],
  autorec: [
    { layers: ['decoder'], axis: 1 },
    { layers: ['encoder'], axis: 0 },
  ],
};

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

/** An ID that no caller can send (IDs are never empty): the erased user's place in userIds, so the rows of everyone else keep their indexes. */
export const ERASED_ID = '';

const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');

/** Writes under a temporary name and renames: a crash leaves the old file or the new one, never half of one. */
function replaceFile(file: string, data: Buffer | string): void {
  const tmp = `${file}.tmp-erase`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Zeroes user u's entries in a member's weights.bin (layout from its model.json); false when the member kind has no per-user weights. */
function eraseInMember(dir: string, kind: string, u: number, nUsers: number): Buffer | null {
  const rules = USER_WEIGHTS[kind];
  if (!rules) return null;
  const manifest = (
    JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[]; weights: WeightSpec[] }[] }
  ).weightsManifest[0];
  const file = path.join(dir, manifest.paths[0]);
  const data = fs.readFileSync(file);
  const floats = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
  let offset = 0;
  for (const w of manifest.weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    const layer = w.name.split('/')[0];
    const rule = rules.find((r) => r.layers.includes(layer));
    if (rule && w.dtype === 'float32') {
      // Rows of a 2-D table (an encoder's 1-D bias is no user's, whatever its length).
      if (rule.axis === 0 && w.shape.length === 2 && w.shape[0] === nUsers) {
        const width = size / nUsers;
        floats.fill(0, offset + u * width, offset + (u + 1) * width);
      } else if (rule.axis === 1 && w.shape.length === 2 && w.shape[1] === nUsers) {
        for (let r = 0; r < w.shape[0]; r++) floats[offset + r * nUsers + u] = 0;
      } else if (rule.axis === 1 && w.shape.length === 1 && w.shape[0] === nUsers) {
        floats[offset + u] = 0;
      }
    }
    offset += size;
  }
  replaceFile(file, data);
  return data;
}

/**
 * Erasure of one user from one checkpoint folder: their rows in every member's weights are
 * zeroed, their mean is dropped from the rating summary and their ID is replaced by ERASED_ID;
 * the files' SHA-256 in meta.json are updated so the checkpoint still verifies. Returns false
 * when the checkpoint does not hold the user.
 */
export function eraseUserFromCheckpoint(dir: string, userId: string): boolean {
  const metaFile = path.join(dir, 'meta.json');
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as CheckpointMeta;
  const u = meta.userIds.indexOf(userId);
  if (u < 0) return false;
  const nUsers = meta.userIds.length;
  for (const entry of meta.members ?? []) {
    const sub = path.join(dir, entry.path);
    const data = eraseInMember(sub, entry.kind, u, nUsers);
    if (data && entry.files) {
      const name = Object.keys(entry.files).find((f) => f.endsWith('.bin'));
      if (name) entry.files[name] = sha256(data);
    }
  }
  // A v1 checkpoint is one NNMF network at the folder's top.
  if (!meta.members) eraseInMember(dir, 'nnmf', u, nUsers);
  meta.userIds[u] = ERASED_ID;
  if (meta.summary?.userMean) meta.summary.userMean[u] = meta.summary.globalMean;
  replaceFile(metaFile, JSON.stringify(meta));
  return true;
}

/** Erasure of a user from every checkpoint under modelsDir; the names of the folders changed. */
export function eraseUserFromCheckpoints(modelsDir: string, userId: string): string[] {
  if (!fs.existsSync(modelsDir)) return [];
  const changed: string[] = [];
  for (const name of fs.readdirSync(modelsDir).sort()) {
    if (name.startsWith('.')) continue;
    const dir = path.join(modelsDir, name);
    if (!fs.existsSync(path.join(dir, 'meta.json'))) continue;
    if (eraseUserFromCheckpoint(dir, userId)) changed.push(name);
  }
  return changed;
}
