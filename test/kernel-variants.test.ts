import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/root';
import { initParams, type ModelParams } from '../src/engine/state';
import { describeNative } from './helpers/native';

// The kernel is compiled per instruction set and one variant is picked when the addon loads, so
// each variant runs in a process of its own (NNMF_KERNEL names it). They must agree to rounding.
const script = `
const fs = require('node:fs');
const addon = require(process.argv[1]);
const j = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const p = { ...j, net: Float32Array.from(j.net), users: Float32Array.from(j.users), items: Float32Array.from(j.items) };
const model = new addon.ServingModel(p);
const all = new Float32Array(p.nItems);
const listed = Int32Array.from({ length: p.nItems }, (_, k) => p.nItems - 1 - k);
const some = new Float32Array(p.nItems);
(async () => {
  await model.scoreAll(3, all);
  await model.scoreUser(3, listed, listed.length, some);
  const u = Int32Array.from({ length: 200 }, (_, k) => (k * 7) % p.nUsers);
  const i = Int32Array.from({ length: 200 }, (_, k) => (k * 13) % p.nItems);
  const r = Float32Array.from({ length: 200 }, (_, k) => 1 + (k % 5));
  // A NaN weight (a diverged network) must come out as NaN, not be squashed into a number.
  const broken = { ...p, net: Float32Array.from(p.net) };
  broken.net[0] = NaN;
  const brokenAll = new Float32Array(p.nItems);
  await new addon.ServingModel(broken).scoreAll(3, brokenAll);
  const nanPropagates = brokenAll.every(Number.isNaN) && addon.predict(broken, Int32Array.of(3), Int32Array.of(0)).every(Number.isNaN);
  const reg = (n) => new Float32Array(n).fill(0.01);
  const g = addon.lossAndGrad(p, { u, i, r, order: Int32Array.from({ length: 200 }, (_, k) => k), regU: reg(p.nUsers), regI: reg(p.nItems) });
  process.stdout.write(JSON.stringify({
    kernel: addon.kernel,
    nanPropagates,
    all: Array.from(all),
    some: Array.from(some),
    predict: Array.from(addon.predict(p, u, i)),
    pairs: Array.from(addon.predict(p, new Int32Array(p.nItems).fill(3), Int32Array.from({ length: p.nItems }, (_, k) => k))),
    loss: g.loss,
    gNet: Array.from(g.gNet),
  }));
})();
`;

interface Outputs {
  kernel: string;
  nanPropagates: boolean;
  all: number[];
  some: number[];
  predict: number[];
  pairs: number[];
  loss: number;
  gNet: number[];
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a).toHaveLength(b.length);
  return a.reduce((m, x, k) => Math.max(m, Math.abs(x - b[k])), 0);
}

const addonFile = path.join(projectRoot(), 'build/Release/nnmf_native.node');
describeNative('kernel variants', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnmf-variants-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(params: ModelParams, kernel: string | undefined): Outputs {
    const file = path.join(dir, 'model.json');
    const plain = { ...params, net: Array.from(params.net), users: Array.from(params.users), items: Array.from(params.items) };
    fs.writeFileSync(file, JSON.stringify(plain));
    const env = { ...process.env };
    delete env.NNMF_KERNEL;
    if (kernel) env.NNMF_KERNEL = kernel;
    return JSON.parse(execFileSync(process.execPath, ['-e', script, addonFile, file], { env, encoding: 'utf8' })) as Outputs;
  }

  // 75 items: not a whole number of scoring blocks (16 or 32 items), so the last block is partial.
  test.each([
    ['with bias rows', true],
    ['without bias rows', false],
  ])('every variant gives the same scores, predictions and gradients (%s)', (_name, useBias) => {
    const params = initParams({ nUsers: 9, nItems: 75, d: 10, dp: 60, h1: 50, h2: 50, h3: 50, useBias }, 4, 0.5);
    const best = run(params, undefined);
    const outputs = [best, run(params, 'avx2'), run(params, 'generic')];
    expect(outputs[2].kernel).toBe('generic');
    for (const o of outputs) {
      expect(o.nanPropagates).toBe(true);
      // The whole catalogue in model order, and a list in another order, score the same items alike.
      expect(maxAbsDiff(o.some, [...o.all].reverse())).toBe(0);
      // Scoring one user against the catalogue and the per-pair forward pass agree to rounding.
      expect(maxAbsDiff(o.all, o.pairs)).toBeLessThan(1e-5);
      expect(maxAbsDiff(o.all, best.all)).toBeLessThan(1e-5);
      expect(maxAbsDiff(o.predict, best.predict)).toBeLessThan(1e-5);
      expect(Math.abs(o.loss - best.loss) / best.loss).toBeLessThan(1e-5);
      const scale = Math.max(...best.gNet.map(Math.abs));
      expect(maxAbsDiff(o.gNet, best.gNet) / scale).toBeLessThan(1e-5);
    }
    // The scores vary across items, so equal lists are not a constant.
    expect(Math.max(...best.all) - Math.min(...best.all)).toBeGreaterThan(0.01);
  });
});
