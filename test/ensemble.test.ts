import { fitBiases, predictBiases } from '../src/engine/baselines';
import { assignBuckets, DEFAULT_BUCKETS } from '../src/engine/buckets';
import { datasetFromTriples } from '../src/engine/dataset';
import type { ServingNet } from '../src/engine/engine';
import { Ensemble, fitBlend } from '../src/engine/ensemble';
import { metrics } from '../src/engine/evaluate';
import { resolveJobSettings } from '../src/engine/job-settings';
import { memberKinds } from '../src/engine/kinds';
import type { MemberKind, MemberKindName, MemberSplit, TrainedMember } from '../src/engine/member';
import { ParamError } from '../src/engine/params';
import { Rng } from '../src/engine/rng';
import { selectEngine } from '../src/engine/select';
import { trainEnsemble } from '../src/engine/train-ensemble';
import { syntheticRatings } from './helpers/synthetic';

const scale = { min: 1, max: 5 };

/** A member that scores from a fixed table (nUsers × nItems): enough to test blending and serving. */
class TableMember implements TrainedMember {
  readonly settings = {};
  readonly dims: { nUsers: number; nItems: number };
  constructor(
    readonly kind: MemberKindName,
    private readonly table: Float32Array,
    nUsers: number,
    nItems: number,
  ) {
    this.dims = { nUsers, nItems };
  }
  predict(u: Int32Array, i: Int32Array): Float32Array {
    return Float32Array.from(u, (uu, k) => this.table[uu * this.dims.nItems + i[k]]);
  }
  prepare(): ServingNet {
    return {
      score: (u, i, n, out) => out.set(this.predict(u.subarray(0, n), i.subarray(0, n))),
      scoreUser: async (u, items, n, out) => out.set(this.predict(new Int32Array(n).fill(u), items.subarray(0, n))),
      scoreAll: async (u, out) => out.set(this.table.subarray(u * this.dims.nItems, (u + 1) * this.dims.nItems)),
      // A user's row is their row of the table.
      scoreRow: (row, items, n, out) => {
        for (let k = 0; k < n; k++) out[k] = row[items[k]];
      },
      scoreRowAll: async (row, out) => out.set(row),
    };
  }
  get userRowWidth() {
    return this.dims.nItems;
  }
  async foldIn(items: Int32Array, ratings: Float32Array): Promise<Float32Array> {
    const row = new Float32Array(this.dims.nItems);
    items.forEach((i, k) => (row[i] = ratings[k]));
    return row;
  }
  eraseUser(u: number) {
    this.table.fill(0, u * this.dims.nItems, (u + 1) * this.dims.nItems);
  }
  // An item's row is its column of the table: its raters' ratings, 0 elsewhere.
  get itemRowWidth() {
    return this.dims.nUsers;
  }
  async foldInItem(users: Int32Array, ratings: Float32Array): Promise<Float32Array> {
    const row = new Float32Array(this.dims.nUsers);
    users.forEach((u, k) => (row[u] = ratings[k]));
    return row;
  }
  scoreFolded(user: number | Float32Array, itemRows: Float32Array, out: Float32Array) {
    for (let j = 0; j < out.length; j++) out[j] = typeof user === 'number' ? itemRows[j * this.dims.nUsers + user] : 0;
  }
  itemEmbedding() {
    return { dim: 1, data: new Float32Array(this.dims.nItems).fill(1) };
  }
  async save(): Promise<void> {}
}

describe('blending', () => {
  // Truth with two independent parts; each member sees one part well and the other badly.
  const nUsers = 60;
  const nItems = 50;
  const rng = new Rng(4);
  const a = Float32Array.from({ length: nUsers * nItems }, () => 0.6 * rng.normal());
  const b = Float32Array.from({ length: nUsers * nItems }, () => 0.6 * rng.normal());
  const truth = Float32Array.from(a, (x, k) => Math.min(5, Math.max(1, 3.2 + x + b[k] + 0.2 * rng.normal())));
  const memberA = new TableMember(
    'nnmf',
    Float32Array.from(a, (x, k) => 3.2 + x + 0.3 * b[k]),
    nUsers,
    nItems,
  );
  const memberB = new TableMember(
    'mf',
    Float32Array.from(b, (x, k) => 3.2 + x + 0.6 * a[k] + 0.3 * rng.normal()),
    nUsers,
    nItems,
  );
  const pairs = (from: number, to: number) => ({
    u: Int32Array.from({ length: to - from }, (_, k) => Math.floor((from + k) / nItems)),
    i: Int32Array.from({ length: to - from }, (_, k) => (from + k) % nItems),
  });
  const half = (nUsers * nItems) / 2;
  const fit = pairs(0, half);
  const later = pairs(half, nUsers * nItems);
  const truthOf = (p: { u: Int32Array; i: Int32Array }) => Float32Array.from(p.u, (u, k) => truth[u * nItems + p.i[k]]);

  test('the blend fitted on one half is at least as good as its better member on the other half', () => {
    const blend = fitBlend([memberA.predict(fit.u, fit.i), memberB.predict(fit.u, fit.i)], truthOf(fit), scale);
    const model = new Ensemble([memberA, memberB], blend, scale);
    const rmse = (y: Float32Array) => metrics(y, truthOf(later), scale.min, scale.max).rmseClipped;
    const alone = Math.min(rmse(memberA.predict(later.u, later.i)), rmse(memberB.predict(later.u, later.i)));
    expect(rmse(model.predict(later.u, later.i))).toBeLessThan(alone);
    expect(blend.weights.every((w) => w > 0)).toBe(true);
  });

  test('serving the blend gives the numbers predict gives, per pair and for a whole catalogue', async () => {
    const model = new Ensemble([memberA, memberB], { intercept: 0.1, weights: [0.6, 0.5] }, scale);
    const net = model.prepare();
    const p = pairs(0, 200);
    const out = new Float32Array(200);
    net.score(p.u, p.i, 200, out);
    const direct = model.predict(p.u, p.i);
    out.forEach((v, k) => expect(v).toBeCloseTo(direct[k], 5));
    const all = new Float32Array(nItems);
    await net.scoreAll(3, all);
    const byPair = model.predict(
      new Int32Array(nItems).fill(3),
      Int32Array.from({ length: nItems }, (_, k) => k),
    );
    all.forEach((v, k) => expect(v).toBeCloseTo(byPair[k], 5));
  });

  test("a folded-in item is each member's item row side by side, scored with the blend as a trained item is", async () => {
    const model = new Ensemble([memberA, memberB], { intercept: 0.1, weights: [0.6, 0.5] }, scale);
    // Fold item 7 back in from every user's rating of it: with these members its row reproduces its column.
    const users = Int32Array.from({ length: nUsers }, (_, k) => k);
    const col = (m: TableMember) => Float32Array.from(users, (u) => m.predict(new Int32Array([u]), new Int32Array([7]))[0]);
    const row = await model.foldInItem(users, col(memberA));
    expect(row).toHaveLength(model.itemRowWidth);
    const b = await memberB.foldInItem(users, col(memberB));
    row.set(b, memberA.itemRowWidth);
    // Two copies of the item, end to end, for user 5.
    const rows = new Float32Array(2 * row.length);
    rows.set(row);
    rows.set(row, row.length);
    const out = new Float32Array(2);
    model.scoreFolded(5, rows, out);
    const direct = model.predict(new Int32Array([5]), new Int32Array([7]))[0];
    expect(out[0]).toBeCloseTo(direct, 5);
    expect(out[1]).toBeCloseTo(direct, 5);
  });

  test('a blend without validation ratings, or a degenerate one, falls back to an average', () => {
    expect(fitBlend([new Float32Array(0), new Float32Array(0)], new Float32Array(0), scale)).toEqual({ intercept: 0, weights: [0.5, 0.5] });
    const same = new Float32Array(100).fill(3);
    const w = fitBlend(
      [same, same],
      Float32Array.from({ length: 100 }, (_, k) => 1 + (k % 5)),
      scale,
    );
    expect(w.weights.every(Number.isFinite)).toBe(true);
  });
});

describe('baselines', () => {
  test('user and item biases recover offsets that the global mean cannot', () => {
    const rng = new Rng(2);
    const ub = Array.from({ length: 80 }, () => 0.7 * rng.normal());
    const ib = Array.from({ length: 60 }, () => 0.7 * rng.normal());
    const rows: [string, string, number][] = [];
    for (let u = 0; u < 80; u++)
      for (let i = 0; i < 60; i++) if (rng.next() < 0.5) rows.push([`u${u}`, `i${i}`, 3.5 + ub[u] + ib[i] + 0.3 * rng.normal()]);
    const ds = datasetFromTriples(rows);
    const all = Int32Array.from(rows, (_, k) => k);
    const train = all.filter((k) => k % 5 !== 0);
    const held = all.filter((k) => k % 5 === 0);
    const m = fitBiases(ds, train);
    const truth = Float32Array.from(held, (p) => ds.r[p]);
    const pred = predictBiases(
      m,
      Int32Array.from(held, (p) => ds.u[p]),
      Int32Array.from(held, (p) => ds.i[p]),
    );
    const rmse = metrics(pred, truth, -10, 10).rmse;
    const meanRmse = metrics(new Float32Array(held.length).fill(m.globalMean), truth, -10, 10).rmse;
    expect(rmse).toBeLessThan(0.5 * meanRmse);
    expect(rmse).toBeLessThan(0.6);
  });
});

describe('training an ensemble on buckets', () => {
  const ds = datasetFromTriples(syntheticRatings(120, 80, 25));
  const engine = selectEngine('auto');

  test('no member ever trains or stops early on an evaluation rating', async () => {
    const kinds = memberKinds(engine);
    const seen: MemberSplit[] = [];
    const nnmf = kinds.get('nnmf')!;
    // The real NNMF kind, wrapped to record the positions it is given.
    const recording: MemberKind<object> = { ...nnmf, train: (d, split, s, o) => (seen.push(split), nnmf.train(d, split, s, o)) };
    const settings = resolveJobSettings({ model: 'nnmf', maxEpochs: 2, d: 4, dp: 8, hidden: [8, 8, 8] }, kinds, 1);
    const res = await trainEnsemble(ds, settings, new Map([['nnmf', recording]]), { scale });
    const evaluation = new Set(assignBuckets(ds, DEFAULT_BUCKETS).evaluation);
    expect(evaluation.size).toBeGreaterThan(0);
    // NNMF alone trains two networks by default: each is a member of its own.
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      for (const p of s.train) expect(evaluation.has(p)).toBe(false);
      for (const p of s.validation) expect(evaluation.has(p)).toBe(false);
    }
    expect(res.report!.count).toBe(evaluation.size);
    expect(Object.keys(res.report!.members)).toEqual(['nnmf', 'nnmf-2']);
    expect(res.model.members.map((m) => m.settings.seed)).toEqual([1, 2]);
    // The two networks start from different weights, so they and the blend differ.
    expect(res.report!.members['nnmf-2'].rmse).not.toBe(res.report!.members.nnmf.rmse);
  });

  test('job settings: model kinds, buckets and thread cap are checked before anything is queued', () => {
    const kinds = memberKinds(engine);
    expect(() => resolveJobSettings({ model: 'svd' }, kinds, 2)).toThrow(ParamError);
    expect(() => resolveJobSettings({ validationFraction: 0.4, evaluationFraction: 0.2 }, kinds, 2)).toThrow(ParamError);
    expect(() => resolveJobSettings({ nope: 1 }, kinds, 2)).toThrow(ParamError);
    expect(() => resolveJobSettings({ nnmf: 3 }, kinds, 2)).toThrow(ParamError);
    // Top-level settings other than the job's and the shared ones are NNMF's: refused, not ignored, when the model trains no NNMF.
    for (const kind of ['mf', 'autorec'] as const) {
      if (!kinds.has(kind)) continue;
      expect(() => resolveJobSettings({ model: kind, hidden: 300 }, kinds, 2)).toThrow(`give ${kind}'s settings as params.${kind}`);
      expect(() => resolveJobSettings({ model: kind, lr: 0.01 }, kinds, 2)).toThrow(ParamError);
      expect(() => resolveJobSettings({ model: kind, maxEpoch: 5 }, kinds, 2)).toThrow('unknown training parameter maxEpoch');
      expect(resolveJobSettings({ model: kind, maxEpochs: 5, seed: 3, [kind]: { lr: 0.01 } }, kinds, 2).members[0].settings).toMatchObject({
        maxEpochs: 5,
        seed: 3,
        lr: 0.01,
      });
    }
    expect(resolveJobSettings({ model: 'ensemble', d: 6 }, kinds, 2).members.find((m) => m.kind === 'nnmf')!.settings).toMatchObject({ d: 6 });
    expect(resolveJobSettings({ threads: 64 }, kinds, 2).threads).toBe(2);
    expect(resolveJobSettings({}, kinds, 2).threads).toBe(2);
    if (kinds.has('mf')) {
      const mf = resolveJobSettings({ model: 'mf', mf: { threads: 64 } }, kinds, 2).members[0].settings as { threads: number };
      expect(mf.threads).toBe(2);
    }
    const s = resolveJobSettings({ model: 'nnmf', maxEpochs: 7, nnmf: { patience: 3 }, d: 5, networks: 1 }, kinds, 1);
    expect(s.members).toHaveLength(1);
    expect(s.members[0].settings).toMatchObject({ maxEpochs: 7, patience: 3, d: 5 });
    expect(s.buckets).toEqual(DEFAULT_BUCKETS);
  });

  test('NNMF networks: two when NNMF is the whole model, one in an ensemble, or as many as asked, each with its own seed', () => {
    const kinds = memberKinds(engine);
    const nnmfOf = (given: Record<string, unknown>) =>
      resolveJobSettings(given, kinds, 1)
        .members.filter((m) => m.kind === 'nnmf')
        .map((m) => m.settings as { seed: number; networks: number; d: number });
    expect(nnmfOf({ model: 'nnmf', seed: 5, d: 6 })).toEqual([
      expect.objectContaining({ seed: 5, networks: 2, d: 6 }),
      expect.objectContaining({ seed: 6, networks: 2, d: 6 }),
    ]);
    expect(nnmfOf({ model: 'nnmf', networks: 3 }).map((s) => s.seed)).toEqual([1, 2, 3]);
    expect(nnmfOf({ model: 'nnmf', nnmf: { networks: 1 } })).toHaveLength(1);
    expect(nnmfOf({ model: 'ensemble' })).toEqual([expect.objectContaining({ seed: 1, networks: 1 })]);
    expect(nnmfOf({ model: 'ensemble', nnmf: { networks: 2 } })).toHaveLength(2);
    expect(nnmfOf({ model: 'nnmf', networks: 'auto' })).toHaveLength(2);
    for (const bad of [0, 9, 1.5, 'two', null]) expect(() => resolveJobSettings({ model: 'nnmf', networks: bad }, kinds, 1)).toThrow(ParamError);
  });
});
