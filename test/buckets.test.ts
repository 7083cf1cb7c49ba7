import { assignBuckets, bucketOf, DEFAULT_BUCKETS, pairUnit } from '../src/engine/buckets';
import { datasetFromTriples, fingerprint } from '../src/engine/dataset';
import { syntheticRatings } from './helpers/synthetic';

const triples = syntheticRatings(300, 200, 40, 3);
const key = (u: string, i: string) => `${u}\u0000${i}`;

function bucketsByPair(rows: [string, string, number][]): Map<string, string> {
  const ds = datasetFromTriples(rows);
  const b = assignBuckets(ds, DEFAULT_BUCKETS);
  const out = new Map<string, string>();
  for (const name of ['train', 'validation', 'evaluation'] as const) {
    for (const p of b[name]) out.set(key(ds.userIds[ds.u[p]], ds.itemIds[ds.i[p]]), name);
  }
  return out;
}

describe('held-out buckets', () => {
  test('every rating is in exactly one bucket, in about the configured shares', () => {
    const ds = datasetFromTriples(triples);
    const b = assignBuckets(ds, DEFAULT_BUCKETS);
    const all = [...b.train, ...b.validation, ...b.evaluation].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: triples.length }, (_, k) => k));
    const n = triples.length;
    expect(b.validation.length / n).toBeGreaterThan(0.012);
    expect(b.validation.length / n).toBeLessThan(0.028);
    expect(b.evaluation.length / n).toBeGreaterThan(0.012);
    expect(b.evaluation.length / n).toBeLessThan(0.028);
  });

  test('a rating keeps its bucket when others are added, deleted or reordered', () => {
    const before = bucketsByPair(triples);
    const extra = syntheticRatings(350, 260, 30, 9).map(([u, i, r]) => [`n${u}`, i, r] as [string, string, number]);
    const grown = [...extra.slice(0, 2000), ...triples.filter((_, k) => k % 7 !== 0).reverse(), ...extra.slice(2000)];
    const after = bucketsByPair(grown);
    let compared = 0;
    for (const [u, i] of triples.filter((_, k) => k % 7 !== 0)) {
      expect(after.get(key(u, i))).toBe(before.get(key(u, i)));
      compared++;
    }
    expect(compared).toBeGreaterThan(10_000);
    // The per-pair function agrees with the bulk assignment.
    for (const [u, i] of triples.slice(0, 500)) expect(bucketOf(u, i, DEFAULT_BUCKETS)).toBe(before.get(key(u, i)));
  });

  test('the salt decides the buckets; user and item IDs are not interchangeable', () => {
    const other = { ...DEFAULT_BUCKETS, salt: 'another salt' };
    const differs = triples.slice(0, 2000).filter(([u, i]) => bucketOf(u, i, other) !== bucketOf(u, i, DEFAULT_BUCKETS)).length;
    expect(differs).toBeGreaterThan(20);
    expect(pairUnit('7', '8', DEFAULT_BUCKETS)).not.toBe(pairUnit('8', '7', DEFAULT_BUCKETS));
  });

  test('a data set too small for a validation bucket still gets validation ratings, the same ones every time', () => {
    const tiny = triples.slice(0, 30);
    const a = assignBuckets(datasetFromTriples(tiny), DEFAULT_BUCKETS);
    const b = assignBuckets(datasetFromTriples(tiny), DEFAULT_BUCKETS);
    expect(a.validation.length).toBeGreaterThan(0);
    expect(Array.from(a.validation)).toEqual(Array.from(b.validation));
    expect(a.train.length + a.validation.length + a.evaluation.length).toBe(30);
  });
});

describe('fingerprint', () => {
  test('ignores order, sees any change of a rating, a user or an item', () => {
    const base = fingerprint(datasetFromTriples(triples));
    expect(fingerprint(datasetFromTriples([...triples].reverse()))).toBe(base);
    const changed = triples.map((t, k) => (k === 100 ? ([t[0], t[1], t[2] === 5 ? 4 : t[2] + 0.5] as [string, string, number]) : t));
    expect(fingerprint(datasetFromTriples(changed))).not.toBe(base);
    expect(fingerprint(datasetFromTriples(triples.slice(1)))).not.toBe(base);
    const renamed = triples.map((t) => (t[0] === 'u5' ? (['u5x', t[1], t[2]] as [string, string, number]) : t));
    expect(fingerprint(datasetFromTriples(renamed))).not.toBe(base);
  });
});
