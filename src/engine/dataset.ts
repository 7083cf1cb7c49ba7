import { hashString, mix32, pairHash } from './hash';
import { Rng, range } from './rng';

/** Ratings as parallel typed arrays over dense user and item indexes, with the ID vocabularies. */
export interface Dataset {
  userIds: string[];
  itemIds: string[];
  u: Int32Array;
  i: Int32Array;
  r: Float32Array;
}

export interface Split {
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

/** Builds a dataset from (user, item, rating) triples, assigning indexes in order of first appearance. */
export function datasetFromTriples(triples: Iterable<[string, string, number]>): Dataset {
  const users = new Map<string, number>();
  const items = new Map<string, number>();
  const u: number[] = [];
  const i: number[] = [];
  const r: number[] = [];
  for (const [us, it, v] of triples) {
    let a = users.get(us);
    if (a === undefined) users.set(us, (a = users.size));
    let b = items.get(it);
    if (b === undefined) items.set(it, (b = items.size));
    u.push(a);
    i.push(b);
    r.push(v);
  }
  return { userIds: [...users.keys()], itemIds: [...items.keys()], u: Int32Array.from(u), i: Int32Array.from(i), r: Float32Array.from(r) };
}

export function size(ds: Dataset): number {
  return ds.r.length;
}

/**
 * Random split: `testFraction` of all ratings for test, then `validationFraction` of the rest
 * for early stopping. Deterministic for a seed.
 */
export function randomSplit(ds: Dataset, seed: number, testFraction: number, validationFraction: number): Split {
  const order = new Rng(seed).shuffle(range(size(ds)));
  const nTest = Math.round(order.length * testFraction);
  const rest = order.length - nTest;
  const nVal = Math.round(rest * validationFraction);
  return {
    test: order.slice(0, nTest),
    validation: order.slice(nTest, nTest + nVal),
    train: order.slice(nTest + nVal),
  };
}

/** Per-row regularisation weights lambda / (number of training ratings of the row), so each row's penalty sums to lambda. */
export function regWeights(index: Int32Array, positions: Int32Array, rows: number, lambda: number): Float32Array {
  const counts = new Float64Array(rows);
  for (const p of positions) counts[index[p]]++;
  const w = new Float32Array(rows);
  for (let k = 0; k < rows; k++) w[k] = counts[k] > 0 ? lambda / counts[k] : 0;
  return w;
}

/**
 * Content hash of the ratings, independent of row order: sums of a per-rating hash under two
 * seeds (a multiset hash). One pass with no sorting, so it costs little even at 20M ratings;
 * it tells whether the data changed, it is not meant to resist forgery.
 */
export function fingerprint(ds: Dataset): string {
  const n = size(ds);
  const bits = new Uint32Array(ds.r.buffer, ds.r.byteOffset, n);
  const hashes = (ids: readonly string[], seed: number) => Uint32Array.from(ids, (id) => hashString(id, seed));
  const hu1 = hashes(ds.userIds, 0x811c9dc5);
  const hi1 = hashes(ds.itemIds, 0x1b873593);
  const hu2 = hashes(ds.userIds, 0x7fb5d329);
  const hi2 = hashes(ds.itemIds, 0xcc9e2d51);
  // Sums modulo 2^32: addition stays order-free and exact however many ratings there are.
  let s1 = 0;
  let s2 = 0;
  for (let k = 0; k < n; k++) {
    s1 = (s1 + pairHash(hu1[ds.u[k]], (hi1[ds.i[k]] ^ bits[k]) >>> 0)) >>> 0;
    s2 = (s2 + pairHash(hu2[ds.u[k]], (hi2[ds.i[k]] ^ mix32(bits[k])) >>> 0)) >>> 0;
  }
  return `ms1:${n}:${s1.toString(16)}:${s2.toString(16)}`;
}
