import fs from 'node:fs';
import path from 'node:path';
import { randomSplit } from '../src/engine/dataset';
import { checkpointMeta, loadCheckpoint, saveCheckpoint } from '../src/engine/checkpoint';
import type { Engine } from '../src/engine/engine';
import { buildLayersModel } from '../src/engine/layers-model';
import { loadNative } from '../src/engine/native';
import { NativeEngine } from '../src/engine/native-engine';
import { resolveParams, ParamError } from '../src/engine/params';
import { Predictor } from '../src/engine/predictor';
import { initParams, netSize, rowWidth, type ModelParams } from '../src/engine/state';
import { summarize } from '../src/engine/summary';
import { loadTf } from '../src/engine/tf';
import { TfjsEngine } from '../src/engine/tfjs-engine';
import { evaluate, heldOut, train, TrainingCancelledError, TrainingDivergedError } from '../src/engine/trainer';
import { Ensemble, IDENTITY_BLEND } from '../src/engine/ensemble';
import { memberKinds } from '../src/engine/kinds';
import { NnmfMember } from '../src/engine/nnmf-member';
import { tempDataDir } from './helpers/app';
import { describeNative } from './helpers/native';
import { syntheticDataset } from './helpers/synthetic';
import { niceOfTrainingThreads } from './helpers/threads';

const scale = { min: 1, max: 5 };
const ds = syntheticDataset(120, 80, 25);
const split = randomSplit(ds, 1, 0.1, 0.1);
const small = { d: 4, dp: 8, hidden: [16, 16, 16], batchSize: 256, lambda: 2, lr: 1e-2, maxEpochs: 30, patience: 30, lrDecay: 1, averaging: 0 };
/** Trained NNMF parameters as a one-member model, as the job runner serves them. */
function asModel(params: ModelParams, engine: Engine): Ensemble {
  return new Ensemble([new NnmfMember(params, {}, engine)], IDENTITY_BLEND, scale);
}

describe('model shapes', () => {
  test('parameters and layers model have the paper architecture', () => {
    const dims = { nUsers: 7, nItems: 5, d: 10, dp: 60, h1: 50, h2: 50, h3: 50, useBias: true };
    const p = initParams(dims, 1);
    expect(rowWidth(dims)).toBe(71);
    expect(p.users.length).toBe(7 * 71);
    expect(p.items.length).toBe(5 * 71);
    expect(p.net.length).toBe(netSize(dims));
    expect(netSize(dims)).toBe(80 * 50 + 50 + 50 * 50 + 50 + 50 * 50 + 50 + 50 + 1);
    const tf = loadTf();
    const model = buildLayersModel(tf, dims);
    const input = model.layers.find((l) => l.name === 'x')!;
    expect(input.outputShape).toEqual([null, 80]);
    expect(model.outputs[0].shape).toEqual([null, 1]);
    model.dispose();
  });

  test('latents start as truncated normal(0.1), biases at zero', () => {
    const p = initParams({ nUsers: 200, nItems: 3, d: 10, dp: 60, h1: 50, h2: 50, h3: 50, useBias: true }, 4);
    let maxAbs = 0;
    let sq = 0;
    for (let r = 0; r < 200; r++) {
      for (let k = 0; k < 70; k++) {
        maxAbs = Math.max(maxAbs, Math.abs(p.users[r * 71 + k]));
        sq += p.users[r * 71 + k] ** 2;
      }
      expect(p.users[r * 71 + 70]).toBe(0);
    }
    expect(maxAbs).toBeLessThanOrEqual(0.2);
    expect(Math.sqrt(sq / (200 * 70))).toBeGreaterThan(0.06);
  });

  test('unknown or invalid training parameters are rejected', () => {
    expect(() => resolveParams({ nope: 1 })).toThrow(ParamError);
    expect(() => resolveParams({ lr: -1 })).toThrow(ParamError);
    expect(() => resolveParams({ hidden: [50, 50] })).toThrow(ParamError);
    expect(resolveParams({ lambda: 3 }).lambda).toBe(3);
  });
});

/** The same tests for each engine. */
function engineSuite(make: () => Engine): void {
  test('a short fit lowers the error well below the global mean', async () => {
    const engine = make();
    const params = resolveParams({ ...small, maxEpochs: 12, patience: 12 });
    const res = await train(ds, split, { engine, params, scale });
    const mean = summarize(ds, split.train).globalMean;
    let se = 0;
    for (const p of split.test) se += (ds.r[p] - mean) ** 2;
    const baseline = Math.sqrt(se / split.test.length);
    expect(res.history[res.history.length - 1].trainRmse).toBeLessThan(res.history[0].trainRmse);
    expect(evaluate(engine, res.params, heldOut(ds, split.test), scale).rmse).toBeLessThan(0.8 * baseline);
  });

  test('save then load gives identical predictions', async () => {
    const engine = make();
    const res = await train(ds, split, { engine, params: resolveParams({ ...small, maxEpochs: 2 }), scale });
    const dir = path.join(tempDataDir(), 'm');
    await saveCheckpoint(dir, asModel(res.params, engine), {
      kind: 'nnmf',
      buckets: null,
      userIds: ds.userIds,
      itemIds: ds.itemIds,
      scale,
      summary: summarize(ds),
      engine: engine.name,
      params: {},
      metrics: {},
      fingerprint: 'x',
      createdAt: new Date().toISOString(),
    });
    const loaded = await loadCheckpoint(dir, memberKinds(engine));
    const u = ds.u.slice(0, 300);
    const i = ds.i.slice(0, 300);
    expect(Array.from(loaded.model.predict(u, i))).toEqual(Array.from(engine.predict(res.params, u, i)));
    const member = path.join(dir, loaded.meta.members[0].path);
    // The artifact is a plain TF.js layers model: tf.loadLayersModel's own predict agrees.
    const tf = loadTf();
    const json = JSON.parse(fs.readFileSync(path.join(member, 'model.json'), 'utf8'));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: fs.readFileSync(path.join(member, 'weights.bin')).buffer,
      }),
    );
    const out = model.predict([tf.tensor2d(u, [300, 1], 'int32'), tf.tensor2d(i, [300, 1], 'int32')]) as import('@tensorflow/tfjs-core').Tensor;
    const viaTf = out.dataSync();
    const ours = engine.predict(res.params, u, i);
    for (let k = 0; k < 300; k++) expect(viaTf[k]).toBeCloseTo(ours[k], 4);
  });

  test('a diverging run stops with a clear error', async () => {
    const engine = make();
    const params = resolveParams({ ...small, optimizer: 'rmsprop', lr: 1e4, maxEpochs: 5 });
    await expect(train(ds, split, { engine, params, scale })).rejects.toThrow(TrainingDivergedError);
  });

  test('cancellation stops training', async () => {
    const engine = make();
    const ctl = new AbortController();
    const params = resolveParams({ ...small, maxEpochs: 1000, patience: 1000 });
    const run = train(ds, split, { engine, params, scale, signal: ctl.signal, onEpoch: (p) => p.epoch === 2 && ctl.abort() });
    await expect(run).rejects.toThrow(TrainingCancelledError);
  });
}

describeNative('native engine', () => engineSuite(() => new NativeEngine()));
describe('tfjs engine', () => engineSuite(() => new TfjsEngine()));

describeNative('native engine specifics', () => {
  test('one thread is deterministic for a seed', async () => {
    const params = resolveParams({ ...small, maxEpochs: 3 });
    const a = await train(ds, split, { engine: new NativeEngine(), params, scale });
    const b = await train(ds, split, { engine: new NativeEngine(), params, scale });
    expect(Buffer.from(a.params.net.buffer).equals(Buffer.from(b.params.net.buffer))).toBe(true);
    expect(Buffer.from(a.params.users.buffer).equals(Buffer.from(b.params.users.buffer))).toBe(true);
    const c = await train(ds, split, { engine: new NativeEngine(), params: { ...params, seed: 2 }, scale });
    expect(Buffer.from(a.params.net.buffer).equals(Buffer.from(c.params.net.buffer))).toBe(false);
  });

  test('bad input is an error from JS, not a crash', () => {
    const addon = loadNative()!;
    const p = initParams({ nUsers: 3, nItems: 2, d: 2, dp: 2, h1: 3, h2: 3, h3: 3, useBias: false }, 1);
    expect(() => addon.predict(p, Int32Array.of(3), Int32Array.of(0))).toThrow(/out of range/);
    expect(() => addon.predict(p, Int32Array.of(-1), Int32Array.of(0))).toThrow(/out of range/);
    expect(() => addon.predict({ ...p, net: new Float32Array(3) }, Int32Array.of(0), Int32Array.of(0))).toThrow(/length/);
    const data = {
      u: Int32Array.of(0),
      i: Int32Array.of(1),
      r: Float32Array.of(Number.NaN),
      order: Int32Array.of(0),
      regU: new Float32Array(3),
      regI: new Float32Array(2),
    };
    expect(() => addon.lossAndGrad(p, data)).toThrow(/not finite/);
    expect(() => addon.lossAndGrad(p, { ...data, r: Float32Array.of(3), order: Int32Array.of(5) })).toThrow(/out of range/);
    const model = new addon.ServingModel(p);
    const out = new Float32Array(2);
    expect(() => model.score(Int32Array.of(0, 3), Int32Array.of(0, 0), 2, out)).toThrow(/out of range/);
    expect(() => model.score(Int32Array.of(0), Int32Array.of(0), 2, out)).toThrow(/count/);
    expect(() => model.score(Float32Array.of(0) as unknown as Int32Array, Int32Array.of(0), 1, out)).toThrow(/Int32Array/);
    expect(() => model.score(Int32Array.of(0), Int32Array.of(0), 1, new Int32Array(1) as unknown as Float32Array)).toThrow(/Float32Array/);
    expect(() => model.scoreUser(3, Int32Array.of(0), 1, out)).toThrow(/out of range/);
    expect(() => model.scoreUser(0, Int32Array.of(2), 1, out)).toThrow(/out of range/);
    expect(() => model.scoreUser(0, Int32Array.of(0, 1), 3, out)).toThrow(/count/);
    expect(() => model.scoreAll(3, out)).toThrow(/out of range/);
    expect(() => model.scoreAll(0, new Float32Array(1))).toThrow(/shorter/);
    // Only the first `count` entries are read and written.
    out.fill(7);
    model.score(Int32Array.of(1, 99), Int32Array.of(1, 99), 1, out);
    expect(out[1]).toBe(7);
    expect(out[0]).toBe(addon.predict(p, Int32Array.of(1), Int32Array.of(1))[0]);
  });

  const linuxOnly = process.platform === 'linux' ? test : test.skip;
  linuxOnly('epochs run on threads at a lower priority than the JavaScript thread', async () => {
    const params = resolveParams({ ...small, maxEpochs: 10_000, patience: 10_000 });
    const { seen, own, error } = await niceOfTrainingThreads((signal, onEpoch) =>
      train(ds, split, { engine: new NativeEngine(), params, scale, signal, onEpoch }),
    );
    expect(error).toBeInstanceOf(TrainingCancelledError);
    expect(seen).toContain(10);
    // The JavaScript thread itself keeps its priority.
    expect(own).toBe(0);
  });

  test('threads do not change the result beyond rounding', async () => {
    const params = resolveParams({ ...small, maxEpochs: 2 });
    const a = await train(ds, split, { engine: new NativeEngine(), params, scale });
    const b = await train(ds, split, { engine: new NativeEngine(), params: { ...params, threads: 2 }, scale });
    expect(Math.abs(a.validation.rmse - b.validation.rmse)).toBeLessThan(1e-3);
  });
});

describeNative('predictor', () => {
  test('unknown users and items get marked fallbacks, never NaN', async () => {
    const engine = new NativeEngine();
    const res = await train(ds, split, { engine, params: resolveParams({ ...small, maxEpochs: 2 }), scale });
    const summary = summarize(ds);
    const model = asModel(res.params, engine);
    const pred = new Predictor(
      'm1',
      checkpointMeta(model, {
        kind: 'nnmf',
        buckets: null,
        userIds: ds.userIds,
        itemIds: ds.itemIds,
        scale,
        summary,
        engine: 'native',
        params: {},
        metrics: {},
        fingerprint: 'x',
        createdAt: '',
      }),
      model,
    );
    const out = pred.predict([
      { userId: 'u1', itemId: 'i1' },
      { userId: 'nobody', itemId: 'i1' },
      { userId: 'u1', itemId: 'nothing' },
      { userId: 'nobody', itemId: 'nothing' },
    ]);
    expect(out.map((p) => p.fallback)).toEqual([null, 'item_mean', 'user_mean', 'global_mean']);
    for (const p of out) {
      expect(Number.isFinite(p.rating)).toBe(true);
      expect(p.rating).toBeGreaterThanOrEqual(1);
      expect(p.rating).toBeLessThanOrEqual(5);
    }
    expect(await pred.topN('nobody', 5, new Set())).toBeNull();
    const top = (await pred.topN('u1', 5, new Set(['i1'])))!;
    expect(top).toHaveLength(5);
    expect(top.map((t) => t.itemId)).not.toContain('i1');
    for (let k = 1; k < top.length; k++) expect(top[k - 1].score).toBeGreaterThanOrEqual(top[k].score);
    // The same list as scoring every item one by one, leaving out the excluded ones.
    const excluded = new Set(ds.itemIds.filter((_, k) => k % 3 === 0));
    const brute = pred
      .predict(ds.itemIds.filter((id) => !excluded.has(id)).map((itemId) => ({ userId: 'u1', itemId })))
      .map((p) => p.rating)
      .sort((a, b) => b - a)
      .slice(0, 7);
    const ranked = (await pred.topN('u1', 7, excluded))!;
    // Scoring one user against the catalogue sums the first layer in another order: equal to rounding.
    ranked.forEach((t, k) => expect(t.score).toBeCloseTo(brute[k], 5));
    expect(ranked.some((t) => excluded.has(t.itemId))).toBe(false);
    // Asking for more than there is gives every item that is left, still none of the excluded.
    const everything = (await pred.topN('u1', 10_000, excluded))!;
    expect(everything).toHaveLength(ds.itemIds.length - excluded.size);
    expect(everything.some((t) => excluded.has(t.itemId))).toBe(false);
    // The off-thread catalogue scoring and the per-pair path give the same numbers.
    const again = pred.predict(top.map((t) => ({ userId: 'u1', itemId: t.itemId })));
    again.forEach((p, k) => expect(p.rating).toBeCloseTo(top[k].score, 5));
    // A batch larger than any before (the scratch space grows) agrees with pairs asked one at a time.
    const many = ds.userIds.slice(0, 40).map((userId, k) => ({ userId, itemId: ds.itemIds[k % ds.itemIds.length] }));
    const batch = pred.predict(many);
    expect(batch.map((p) => p.rating)).toEqual(many.map((p) => pred.predict([p])[0].rating));
    const sim = pred.similar('i1', 3)!;
    expect(sim).toHaveLength(3);
    expect(sim.map((s) => s.itemId)).not.toContain('i1');
    expect(pred.similar('nothing', 3)).toBeNull();
  });
});

describe('training settings', () => {
  test("lambda 'auto' scales with ratings per user", async () => {
    const { effectiveLambda, LAMBDA_PER_RATING } = await import('../src/engine/params');
    const p = resolveParams({});
    expect(p.lambda).toBe('auto');
    expect(effectiveLambda(p, 90_000, 900)).toBeCloseTo(LAMBDA_PER_RATING * 100);
    expect(effectiveLambda(resolveParams({ lambda: 7 }), 90_000, 900)).toBe(7);
    expect(() => resolveParams({ lambda: 'lots' })).toThrow(ParamError);
  });
});

describeNative('weight averaging', () => {
  test('averaging keeps a blend of the epochs, which differs from the last epoch and still fits', async () => {
    const engine = new NativeEngine();
    const params = resolveParams({ ...small, maxEpochs: 6, patience: 6, averaging: 0 });
    // The split the defaults used before buckets: 2% of the training part for validation.
    const split = randomSplit(ds, 1, 0.1, 0.02);
    const plain = await train(ds, split, { engine, params, scale });
    const averaged = await train(ds, split, { engine, params: { ...params, averaging: 0.8 }, scale });
    expect(Buffer.from(plain.params.net.buffer).equals(Buffer.from(averaged.params.net.buffer))).toBe(false);
    expect(averaged.validation.rmse).toBeLessThan(1.2 * plain.validation.rmse);
    expect(() => resolveParams({ averaging: 1 })).toThrow(ParamError);
  });
});
