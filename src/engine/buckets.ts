import type { Dataset } from './dataset';
import { hashString, pairHash } from './hash';

/**
 * How ratings are held out. Each (user, item) pair falls in a bucket by a salted hash of its
 * two IDs alone, so a rating keeps its bucket as other ratings come and go, and two models
 * trained months apart agree on which ratings neither of them trained on.
 */
export interface BucketScheme {
  salt: string;
  /** Share of ratings for early stopping and blend weights. */
  validation: number;
  /** Share of ratings no model ever trains or is selected on: the promotion gate's and the reports' ground. */
  evaluation: number;
}

export const DEFAULT_BUCKET_SALT = 'nnmf-recommender/buckets/v1';

export const DEFAULT_BUCKETS: BucketScheme = { salt: DEFAULT_BUCKET_SALT, validation: 0.02, evaluation: 0.02 };

export interface Buckets {
  train: Int32Array;
  validation: Int32Array;
  evaluation: Int32Array;
}

export type BucketName = 'train' | 'validation' | 'evaluation';

const UNIT = 2 ** 32;

/** Per-ID hashes of a vocabulary under a salt, computed once per ID rather than once per rating. */
function idHashes(ids: readonly string[], salt: number): Uint32Array {
  const out = new Uint32Array(ids.length);
  for (let k = 0; k < ids.length; k++) out[k] = hashString(ids[k], salt);
  return out;
}

/** A uniform value in [0, 1) for the pair; the bucket follows from where it falls. */
export function pairUnit(userId: string, itemId: string, scheme: BucketScheme): number {
  const salt = hashString(scheme.salt);
  return pairHash(hashString(userId, salt), hashString(itemId, mix(salt))) / UNIT;
}

export function bucketOf(userId: string, itemId: string, scheme: BucketScheme): BucketName {
  return bucketForUnit(pairUnit(userId, itemId, scheme), scheme);
}

function bucketForUnit(x: number, scheme: BucketScheme): BucketName {
  if (x < scheme.validation) return 'validation';
  if (x < scheme.validation + scheme.evaluation) return 'evaluation';
  return 'train';
}

// Items hash under a different seed than users, so that user "7" and item "7" are unrelated.
const mix = (salt: number) => (salt ^ 0x5bd1e995) >>> 0;

/**
 * The positions of the dataset in each bucket, in dataset order. Early stopping needs at
 * least one validation rating: on a data set so small that its validation bucket is empty,
 * the training ratings with the lowest hash values stand in (still the same ones every time).
 */
export function assignBuckets(ds: Dataset, scheme: BucketScheme): Buckets {
  const salt = hashString(scheme.salt);
  const hu = idHashes(ds.userIds, salt);
  const hi = idHashes(ds.itemIds, mix(salt));
  const n = ds.r.length;
  const val: number[] = [];
  const evl: number[] = [];
  const train = new Int32Array(n);
  let t = 0;
  const vCut = scheme.validation * UNIT;
  const eCut = (scheme.validation + scheme.evaluation) * UNIT;
  for (let p = 0; p < n; p++) {
    const x = pairHash(hu[ds.u[p]], hi[ds.i[p]]);
    if (x < vCut) val.push(p);
    else if (x < eCut) evl.push(p);
    else train[t++] = p;
  }
  if (val.length === 0 && t > 1) {
    const byHash = Array.from(train.subarray(0, t)).sort((a, b) => pairHash(hu[ds.u[a]], hi[ds.i[a]]) - pairHash(hu[ds.u[b]], hi[ds.i[b]]));
    const take = new Set(byHash.slice(0, Math.max(1, Math.round(t * scheme.validation))));
    const rest = Int32Array.from(train.subarray(0, t)).filter((p) => !take.has(p));
    return { train: rest, validation: Int32Array.from([...take].sort((a, b) => a - b)), evaluation: Int32Array.from(evl) };
  }
  return { train: train.slice(0, t), validation: Int32Array.from(val), evaluation: Int32Array.from(evl) };
}

export function sameScheme(a: BucketScheme | null | undefined, b: BucketScheme): boolean {
  return !!a && a.salt === b.salt && a.validation === b.validation && a.evaluation === b.evaluation;
}
