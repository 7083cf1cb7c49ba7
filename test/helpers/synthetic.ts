import { datasetFromTriples, type Dataset } from '../../src/engine/dataset';
import { Rng } from '../../src/engine/rng';

/** Ratings from a rank-3 signal passed through a sigmoid, scaled to 1..5, with noise. */
export function syntheticRatings(nUsers: number, nItems: number, perUser: number, seed = 7): [string, string, number][] {
  const rng = new Rng(seed);
  const k = 3;
  const a = Array.from({ length: nUsers }, () => Array.from({ length: k }, () => rng.normal()));
  const b = Array.from({ length: nItems }, () => Array.from({ length: k }, () => rng.normal()));
  const out: [string, string, number][] = [];
  for (let u = 0; u < nUsers; u++) {
    const seen = new Set<number>();
    while (seen.size < Math.min(perUser, nItems)) seen.add(Math.floor(rng.next() * nItems));
    for (const i of seen) {
      const dot = a[u].reduce((s, x, j) => s + x * b[i][j], 0);
      const v = 1 + 4 / (1 + Math.exp(-dot)) + 0.2 * rng.normal();
      out.push([`u${u}`, `i${i}`, Math.min(5, Math.max(1, Math.round(v * 2) / 2))]);
    }
  }
  return out;
}

export function syntheticDataset(nUsers: number, nItems: number, perUser: number, seed = 7): Dataset {
  return datasetFromTriples(syntheticRatings(nUsers, nItems, perUser, seed));
}
