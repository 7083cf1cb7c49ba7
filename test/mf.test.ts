import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomSplit, type Dataset } from '../src/engine/dataset';
import { mfKind, MfMember, type MfParams } from '../src/engine/mf';
import { initMfParams, zeroMfState } from '../src/engine/mf/model';
import { loadMfAddon } from '../src/engine/mf/native';
import { portableScore, portableServing } from '../src/engine/mf/portable';
import { mfLossAndGradReference, type MfRatings } from '../src/engine/mf/reference';
import { nativeLoadError } from '../src/engine/native';
import { ParamError } from '../src/engine/params';
import { Rng, range } from '../src/engine/rng';
import { loadTf } from '../src/engine/tf';
import { TrainingCancelledError, TrainingDivergedError } from '../src/engine/trainer';
import { syntheticDataset } from './helpers/synthetic';
import { relErr } from './helpers/compare';

const addon = loadMfAddon();
// Without the compiled kernel there is nothing to train or score: say why instead of failing.
const withAddon = addon ? describe : describe.skip;
const why = addon ? '' : ` (skipped: native addon unavailable: ${nativeLoadError() ?? 'built without mf'})`;

const ds = syntheticDataset(60, 40, 15);
const dims = { nUsers: ds.userIds.length, nItems: ds.itemIds.length };
const scale = { min: 1, max: 5 };

/** The ratings of `data` at `positions`, as parallel arrays. */
const gatherFrom =
  (data: Dataset) =>
  (positions: Int32Array): MfRatings => ({
    u: Int32Array.from(positions, (p) => data.u[p]),
    i: Int32Array.from(positions, (p) => data.i[p]),
    r: Float32Array.from(positions, (p) => data.r[p]),
  });
const gather = gatherFrom(ds);

describe('mf settings', () => {
  test('defaults resolve and given values override them', () => {
    expect(mfKind.resolve({})).toEqual(mfKind.defaults);
    expect(mfKind.resolve({ k: 8, optimizer: 'adam' })).toMatchObject({ k: 8, optimizer: 'adam', lambda: mfKind.defaults.lambda });
  });

  test.each([
    [{ nope: 1 }, /unknown mf parameter nope/],
    [{ k: 0 }, /k must be/],
    [{ k: 2.5 }, /k must be/],
    [{ lambda: -1 }, /lambda must be/],
    [{ lambdaBias: Number.NaN }, /lambdaBias must be/],
    [{ optimizer: 'rmsprop' }, /optimizer must be/],
    [{ lr: 0 }, /lr must be/],
    [{ lrDecay: 2 }, /lrDecay must be/],
    [{ batchSize: 0 }, /batchSize must be/],
    [{ maxEpochs: '10' }, /maxEpochs must be/],
    [{ patience: 0 }, /patience must be/],
    [{ initStd: -0.1 }, /initStd must be/],
    [{ threads: 65 }, /threads must be/],
  ])('%j is refused', (given, message) => {
    expect(() => mfKind.resolve(given)).toThrow(ParamError);
    expect(() => mfKind.resolve(given)).toThrow(message);
  });
});

withAddon(`mf kernel against the TF.js reference${why}`, () => {
  const tf = loadTf();
  const lambda = 0.05;
  const lambdaBias = 0.02;

  test('loss and gradients match TF.js autodiff', () => {
    const p = initMfParams(dims, 8, 3.5, 21, 0.3);
    for (let r = 0; r < dims.nUsers; r++) p.users[r * 9 + 8] = 0.1 * Math.sin(r);
    const order = range(300);
    const native = addon!.mfLossAndGrad(p, { u: ds.u, i: ds.i, r: ds.r, order }, { lambda, lambdaBias });
    const ref = mfLossAndGradReference(tf, p, gather(order), lambda, lambdaBias);
    expect(Math.abs(native.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    // Factor and bias columns separately, so an error in the biases cannot hide among the factors.
    const column = (g: Float32Array, rows: number, k: number) => Float32Array.from({ length: rows }, (_, r) => g[r * 9 + k]);
    for (let k = 0; k < 9; k++) {
      expect(relErr(column(native.gUsers, dims.nUsers, k), column(ref.gUsers, dims.nUsers, k))).toBeLessThan(1e-4);
      expect(relErr(column(native.gItems, dims.nItems, k), column(ref.gItems, dims.nItems, k))).toBeLessThan(1e-4);
    }
    expect(Math.max(...native.gUsers.map(Math.abs))).toBeGreaterThan(1e-3);
  });

  // The same steps in JavaScript from TF.js gradients: SGD, and Adam on the rows each batch touches.
  function referenceSteps(p: MfParams, order: Int32Array, batch: number, opt: 'sgd' | 'adam', lr: number): void {
    const s = zeroMfState(p);
    let t = 0;
    for (let b = 0; b < order.length; b += batch) {
      const part = order.subarray(b, b + batch);
      const g = mfLossAndGradReference(tf, p, gather(part), lambda, lambdaBias);
      t++;
      const apply = (w: Float32Array, grad: Float32Array, m1: Float32Array, m2: Float32Array, rows: Set<number>) => {
        for (const r of rows) {
          for (let j = r * (p.k + 1); j < (r + 1) * (p.k + 1); j++) {
            if (opt === 'sgd') {
              w[j] -= lr * grad[j];
              continue;
            }
            m1[j] = 0.9 * m1[j] + 0.1 * grad[j];
            m2[j] = 0.999 * m2[j] + 0.001 * grad[j] * grad[j];
            w[j] -= (lr * (m1[j] / (1 - 0.9 ** t))) / (Math.sqrt(m2[j] / (1 - 0.999 ** t)) + 1e-7);
          }
        }
      };
      apply(p.users, g.gUsers, s.usersS1, s.usersS2, new Set(Array.from(part, (q) => ds.u[q])));
      apply(p.items, g.gItems, s.itemsS1, s.itemsS2, new Set(Array.from(part, (q) => ds.i[q])));
    }
  }

  test.each([
    ['sgd, one rating a step', 'sgd', 1, 0.02],
    ['sgd, minibatches of 16', 'sgd', 16, 0.2],
    ['adam, minibatches of 16', 'adam', 16, 0.01],
  ] as const)('%s: the same parameters after 20 steps', async (_name, opt, batch, lr) => {
    const order = new Rng(5).shuffle(range(ds.r.length)).slice(0, 20 * batch);
    const native = initMfParams(dims, 8, 3.5, 3, 0.1);
    const ref = initMfParams(dims, 8, 3.5, 3, 0.1);
    const res = await addon!.mfTrainEpoch(
      { ...native, ...zeroMfState(native) },
      { u: ds.u, i: ds.i, r: ds.r, order },
      { batchSize: batch, lr, lambda, lambdaBias, optimizer: opt === 'adam' ? 1 : 0, step: 0, threads: 1 },
    );
    expect(res).toMatchObject({ count: order.length, step: 20, cancelled: false });
    referenceSteps(ref, order, batch, opt, lr);
    expect(relErr(native.users, ref.users)).toBeLessThan(1e-5);
    expect(relErr(native.items, ref.items)).toBeLessThan(1e-5);
    // The check has teeth: the steps moved the rows far more than the tolerance.
    expect(relErr(native.users, initMfParams(dims, 8, 3.5, 3, 0.1).users)).toBeGreaterThan(1e-3);
  });
});

withAddon(`mf training, serving and checkpoints${why}`, () => {
  // Enough ratings per row for a low-rank model to beat the mean clearly.
  const ds = syntheticDataset(120, 80, 25);
  const dims = { nUsers: ds.userIds.length, nItems: ds.itemIds.length };
  const gather = gatherFrom(ds);
  const split = randomSplit(ds, 1, 0.1, 0.1);
  const opts = { scale, threads: 1 };
  let trained: Awaited<ReturnType<typeof mfKind.train>>;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-'));
    trained = await mfKind.train(ds, split, mfKind.resolve({ k: 8, maxEpochs: 60, patience: 60 }), opts);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const rmse = (m: MfMember | { predict: MfMember['predict'] }, positions: Int32Array) => {
    const s = gather(positions);
    const pred = m.predict(s.u, s.i);
    return Math.sqrt(pred.reduce((acc, x, k) => acc + (x - s.r[k]) ** 2, 0) / pred.length);
  };

  test('learns: held-out error well below predicting the training mean, and the best epoch is kept', () => {
    const mean = Array.from(split.train, (p) => ds.r[p]).reduce((a, b) => a + b, 0) / split.train.length;
    const baseline = Math.sqrt(Array.from(split.test, (p) => (ds.r[p] - mean) ** 2).reduce((a, b) => a + b, 0) / split.test.length);
    expect(rmse(trained.member, split.test)).toBeLessThan(0.8 * baseline);
    expect(trained.epochs).toBe(60);
    const best = trained.history.reduce((a, b) => (b.validationRmse < a.validationRmse ? b : a));
    expect(trained.bestEpoch).toBe(best.epoch);
    expect(trained.validationRmse).toBe(best.validationRmse);
    expect(rmse(trained.member, split.validation)).toBeCloseTo(trained.validationRmse, 5);
  });

  test('stops early after `patience` epochs without improvement and reports every epoch', async () => {
    const seen: number[] = [];
    const res = await mfKind.train(ds, split, mfKind.resolve({ k: 8, lr: 0.05, lrDecay: 1, maxEpochs: 500, patience: 3 }), {
      ...opts,
      onEpoch: (p) => seen.push(p.epoch),
    });
    expect(res.epochs).toBeLessThan(500);
    expect(res.epochs - res.bestEpoch).toBe(3);
    expect(seen).toEqual(res.history.map((h) => h.epoch));
  });

  // 2,430 training ratings: two threads of at least 1,024 each, so the lock-free split really runs.
  test('trains with two threads and with Adam', async () => {
    for (const s of [
      { threads: 2, batchSize: 1 },
      { optimizer: 'adam', batchSize: 32, lr: 0.01 },
    ]) {
      const res = await mfKind.train(ds, split, mfKind.resolve({ k: 8, maxEpochs: 40, patience: 40, ...s }), opts);
      expect(rmse(res.member, split.test)).toBeLessThan(rmse(trained.member, split.test) * 1.15);
    }
  });

  test('an aborted signal stops training with TrainingCancelledError', async () => {
    const ctl = new AbortController();
    const run = mfKind.train(ds, split, mfKind.resolve({ k: 8, maxEpochs: 10_000, patience: 10_000, lrDecay: 1 }), {
      ...opts,
      signal: ctl.signal,
      onEpoch: (p) => p.epoch === 3 && ctl.abort(),
    });
    await expect(run).rejects.toBeInstanceOf(TrainingCancelledError);
  });

  test('a learning rate that blows up is reported as divergence', async () => {
    const run = mfKind.train(ds, split, mfKind.resolve({ k: 8, lr: 10, maxEpochs: 20 }), opts);
    await expect(run).rejects.toBeInstanceOf(TrainingDivergedError);
  });

  test('serving scores equal predictions: pairs, a list of items, the whole catalogue', async () => {
    const m = trained.member;
    const net = m.prepare();
    const items = range(dims.nItems);
    const direct = m.predict(new Int32Array(dims.nItems).fill(7), items);
    const all = new Float32Array(dims.nItems);
    await net.scoreAll(7, all);
    expect(Array.from(all)).toEqual(Array.from(direct));
    const listed = items.slice().reverse();
    const some = new Float32Array(dims.nItems);
    await net.scoreUser(7, listed, listed.length, some);
    expect(Array.from(some)).toEqual(Array.from(direct).reverse());
    const out = new Float32Array(3);
    net.score(Int32Array.of(7, 7, 7), Int32Array.of(0, 1, 2), 3, out);
    expect(Array.from(out)).toEqual(Array.from(direct.subarray(0, 3)));
    expect(Math.max(...direct) - Math.min(...direct)).toBeGreaterThan(0.1);
  });

  test('the TypeScript scorer (used without the kernel) agrees with the native one and checks indexes', async () => {
    const m = trained.member as MfMember;
    const s = gather(range(ds.r.length));
    const native = m.predict(s.u, s.i);
    expect(relErr(portableScore(m.params, s.u, s.i, s.u.length, new Float32Array(s.u.length)), native)).toBeLessThan(1e-6);
    const net = portableServing(m.params);
    const all = new Float32Array(dims.nItems);
    await net.scoreAll(7, all);
    const nativeAll = new Float32Array(dims.nItems);
    await m.prepare().scoreAll(7, nativeAll);
    expect(relErr(all, nativeAll)).toBeLessThan(1e-6);
    const some = new Float32Array(2);
    await net.scoreUser(7, Int32Array.of(3, 1), 2, some);
    expect(Array.from(some)).toEqual([all[3], all[1]]);
    await expect(net.scoreAll(dims.nUsers, all)).rejects.toThrow(/user index out of range/);
    expect(() => net.score(Int32Array.of(0), Int32Array.of(-1), 1, some)).toThrow(/item index out of range/);
  });

  test('the item embedding is q_i without the bias', () => {
    const m = trained.member as MfMember;
    const e = m.itemEmbedding();
    expect(e.dim).toBe(8);
    expect(e.data).toHaveLength(dims.nItems * 8);
    expect(e.data.subarray(8, 16)).toEqual(m.params.items.subarray(9, 17));
  });

  test('checkpoint: a standard TF.js layers model that loads back to identical predictions', async () => {
    const m = trained.member;
    const target = path.join(dir, 'ckpt');
    fs.mkdirSync(target);
    await m.save(target);
    expect(fs.readdirSync(target).sort()).toEqual(['model.json', 'weights.bin']);
    const back = await mfKind.load(target, m.settings, m.dims);
    const s = gather(range(ds.r.length));
    expect(Array.from(back.predict(s.u, s.i))).toEqual(Array.from(m.predict(s.u, s.i)));
    expect(back.itemEmbedding()).toEqual(m.itemEmbedding());
    // TF.js itself opens it and computes the same ratings.
    const tf = loadTf();
    const json = JSON.parse(fs.readFileSync(path.join(target, 'model.json'), 'utf8'));
    const bin = fs.readFileSync(path.join(target, 'weights.bin'));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: new Uint8Array(bin).buffer }),
    );
    const names = model.layers.map((l) => l.name);
    expect(names).toEqual(expect.arrayContaining(['P', 'Q', 'user_bias', 'item_bias', 'global_mean']));
    const out = model.predict([tf.tensor2d(s.u, [s.u.length, 1], 'int32'), tf.tensor2d(s.i, [s.i.length, 1], 'int32')]) as ReturnType<
      typeof tf.tensor
    >;
    expect(relErr(out.dataSync() as Float32Array, m.predict(s.u, s.i))).toBeLessThan(1e-6);
    model.dispose();
    await expect(mfKind.load(target, { ...m.settings, k: 9 }, m.dims)).rejects.toThrow(/expected/);
  });
});

withAddon(`mf binding refuses bad input${why}`, () => {
  const p = initMfParams(dims, 4, 3, 1, 0.1);
  const data = { u: ds.u, i: ds.i, r: ds.r, order: range(10) };
  const o = { batchSize: 2, lr: 0.01, lambda: 0, lambdaBias: 0, optimizer: 0 as const, step: 0, threads: 1 };
  const state = { ...p, ...zeroMfState(p) };

  test.each([
    ['a short users table', () => addon!.mfPredict({ ...p, users: p.users.subarray(1) }, Int32Array.of(0), Int32Array.of(0)), /users has length/],
    [
      'a Float64Array',
      () => addon!.mfPredict({ ...p, items: new Float64Array(p.items.length) as never }, Int32Array.of(0), Int32Array.of(0)),
      /Float32Array/,
    ],
    ['a user index out of range', () => addon!.mfPredict(p, Int32Array.of(dims.nUsers), Int32Array.of(0)), /out of range/],
    ['an item index below zero', () => addon!.mfPredict(p, Int32Array.of(0), Int32Array.of(-1)), /out of range/],
    ['lists of different lengths', () => addon!.mfPredict(p, Int32Array.of(0, 1), Int32Array.of(0)), /differ/],
    ['a non-finite mean', () => addon!.mfPredict({ ...p, mean: Number.NaN }, Int32Array.of(0), Int32Array.of(0)), /mean/],
    [
      'an order position past the ratings',
      () => addon!.mfLossAndGrad(p, { ...data, order: Int32Array.of(ds.r.length) }, { lambda: 0, lambdaBias: 0 }),
      /out of range/,
    ],
    [
      'a rating that is not finite',
      () => addon!.mfLossAndGrad(p, { ...data, r: new Float32Array(ds.r.length).fill(Number.NaN) }, { lambda: 0, lambdaBias: 0 }),
      /not finite/,
    ],
    ['missing optimiser slots', () => addon!.mfTrainEpoch(p as never, data, o), /usersS1/],
    ['a batch size of 0', () => addon!.mfTrainEpoch(state, data, { ...o, batchSize: 0 }), /batchSize/],
    ['a cancel flag that is not an Int32Array', () => addon!.mfTrainEpoch(state, data, { ...o, cancel: new Float32Array(1) as never }), /Int32Array/],
  ])('%s throws', (_name, call, message) => {
    expect(call).toThrow(message);
  });

  test('serving refuses bad users, items and output arrays', () => {
    const net = new addon!.MfServingModel(p);
    expect(() => net.scoreAll(dims.nUsers, new Float32Array(dims.nItems))).toThrow(/out of range/);
    expect(() => net.scoreAll(0, new Float32Array(dims.nItems - 1))).toThrow(/shorter/);
    expect(() => net.scoreUser(0, Int32Array.of(dims.nItems), 1, new Float32Array(1))).toThrow(/out of range/);
    expect(() => net.scoreUser(0, Int32Array.of(0, 1), 2, new Float32Array(1))).toThrow(/count/);
    expect(() => net.score(Int32Array.of(0), Int32Array.of(0), 1, new Float64Array(1) as never)).toThrow(/Float32Array/);
  });

  test('a cancel flag set before the epoch stops it at once', async () => {
    const res = await addon!.mfTrainEpoch(state, data, { ...o, cancel: Int32Array.of(1) });
    expect(res.cancelled).toBe(true);
    expect(res.count).toBe(0);
  });
});
