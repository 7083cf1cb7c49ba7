import { regWeights } from '../src/engine/dataset';
import type { Engine } from '../src/engine/engine';
import { NativeEngine } from '../src/engine/native-engine';
import { loadNative } from '../src/engine/native';
import { resolveParams, type TrainParams } from '../src/engine/params';
import { Rng, range } from '../src/engine/rng';
import { initParams, netLayout, type ModelParams } from '../src/engine/state';
import { TfjsEngine } from '../src/engine/tfjs-engine';
import { relErr } from './helpers/compare';
import { describeNative } from './helpers/native';
import { syntheticDataset } from './helpers/synthetic';

const ds = syntheticDataset(40, 30, 12);
const dims = { nUsers: ds.userIds.length, nItems: ds.itemIds.length, d: 10, dp: 60, h1: 50, h2: 50, h3: 50, useBias: true };

async function twentySteps(engine: Engine, settings: TrainParams): Promise<{ p: ModelParams; sse: number }> {
  const p = initParams(dims, 3);
  const order = new Rng(5).shuffle(range(ds.r.length)).slice(0, 20 * settings.batchSize);
  const session = await engine.createSession(p, settings);
  const res = await session.epoch(
    {
      data: ds,
      order,
      regU: regWeights(ds.u, order, dims.nUsers, settings.lambda as number),
      regI: regWeights(ds.i, order, dims.nItems, settings.lambda as number),
      lr: settings.lr,
    },
    new Int32Array(1),
  );
  session.dispose();
  expect(session.step).toBe(20);
  return { p, sse: res.sse };
}

describeNative('native kernel and TF.js reference agree', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['adam, alternating', { optimizer: 'adam', alternating: true, lr: 3e-3 }],
    ['rmsprop, joint', { optimizer: 'rmsprop', alternating: false, lr: 1e-3 }],
    ['adam, two threads', { optimizer: 'adam', alternating: true, lr: 3e-3, threads: 2 }],
  ];
  test.each(cases)('%s: same loss and parameters after 20 steps', async (_name, over) => {
    const settings = resolveParams({ batchSize: 16, lambda: 5, ...over });
    const a = await twentySteps(new NativeEngine(), settings);
    const b = await twentySteps(new TfjsEngine(), { ...settings, threads: 1 });
    expect(Math.abs(a.sse - b.sse) / b.sse).toBeLessThan(1e-4);
    expect(relErr(a.p.net, b.p.net)).toBeLessThan(1e-4);
    expect(relErr(a.p.users, b.p.users)).toBeLessThan(1e-4);
    expect(relErr(a.p.items, b.p.items)).toBeLessThan(1e-4);
    // The check has teeth: twenty steps moved the weights far more than the tolerance.
    expect(relErr(a.p.net, initParams(dims, 3).net)).toBeGreaterThan(1e-3);
  });

  test('both engines predict the same ratings', () => {
    const p = initParams(dims, 11);
    const u = Int32Array.from(ds.u.subarray(0, 50));
    const i = Int32Array.from(ds.i.subarray(0, 50));
    expect(relErr(new NativeEngine().predict(p, u, i), new TfjsEngine().predict(p, u, i))).toBeLessThan(1e-5);
  });
});

describeNative('native gradient', () => {
  test('matches TF.js autodiff for every layer and every latent row', () => {
    const addon = loadNative()!;
    const p = initParams(dims, 21, 0.3);
    const order = range(300);
    const regU = regWeights(ds.u, order, dims.nUsers, 4);
    const regI = regWeights(ds.i, order, dims.nItems, 4);
    const native = addon.lossAndGrad(p, { u: ds.u, i: ds.i, r: ds.r, order, regU, regI });
    const ref = new TfjsEngine().gradients(p, { u: ds.u.slice(0, 300), i: ds.i.slice(0, 300), r: ds.r.slice(0, 300), regU, regI });
    expect(Math.abs(native.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    // Each dense kernel and bias separately, so a small error in a small layer cannot hide in a big one.
    for (const l of netLayout(dims)) {
      expect(relErr(native.gNet.subarray(l.kernel, l.bias), ref.gNet.subarray(l.kernel, l.bias))).toBeLessThan(1e-4);
      expect(relErr(native.gNet.subarray(l.bias, l.bias + l.out), ref.gNet.subarray(l.bias, l.bias + l.out))).toBeLessThan(1e-4);
    }
    const R = 71;
    const column = (g: Float32Array, rows: number, k: number) => Float32Array.from({ length: rows }, (_, r) => g[r * R + k]);
    for (let k = 0; k < R - 1; k++) {
      expect(relErr(column(native.gUsers, dims.nUsers, k), column(ref.gUsers, dims.nUsers, k))).toBeLessThan(1e-4);
      expect(relErr(column(native.gItems, dims.nItems, k), column(ref.gItems, dims.nItems, k))).toBeLessThan(1e-4);
    }
    for (const [a, b, rows] of [
      [native.gUsers, ref.gUsers, dims.nUsers],
      [native.gItems, ref.gItems, dims.nItems],
    ] as const) {
      for (let r = 0; r < rows; r++) {
        if (!b.subarray(r * R, r * R + R).some((x) => x !== 0)) continue;
        expect(relErr(a.subarray(r * R, r * R + R), b.subarray(r * R, r * R + R))).toBeLessThan(1e-4);
      }
    }
  });

  test('matches central finite differences', () => {
    const addon = loadNative()!;
    const p = initParams({ ...dims, d: 4, dp: 6, h1: 7, h2: 6, h3: 5 }, 2, 0.5);
    const order = range(60);
    const data = { u: ds.u, i: ds.i, r: ds.r, order, regU: regWeights(ds.u, order, dims.nUsers, 3), regI: regWeights(ds.i, order, dims.nItems, 3) };
    const { gNet, gUsers, gItems } = addon.lossAndGrad(p, data);
    const rng = new Rng(9);
    const checks: [Float32Array, Float32Array][] = [
      [p.net, gNet],
      [p.users, gUsers],
      [p.items, gItems],
    ];
    let checked = 0;
    for (const [w, g] of checks) {
      for (let t = 0; t < 25; t++) {
        const k = Math.floor(rng.next() * w.length);
        if (Math.abs(g[k]) < 1e-2) continue;
        const orig = w[k];
        const h = 1e-2;
        w[k] = orig + h;
        const up = addon.lossAndGrad(p, data).loss;
        w[k] = orig - h;
        const down = addon.lossAndGrad(p, data).loss;
        w[k] = orig;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(fd - g[k]) / Math.max(Math.abs(g[k]), 1e-1)).toBeLessThan(2e-2);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
