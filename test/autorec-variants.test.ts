import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadAutorecNative } from '../src/engine/autorec/native';
import { ratingsByItem } from '../src/engine/autorec/ratings';
import { resolveAutorec } from '../src/engine/autorec/settings';
import { initAutorec } from '../src/engine/autorec/train';
import { range } from '../src/engine/rng';
import { projectRoot } from '../src/root';
import { syntheticDataset } from './helpers/synthetic';

// Each AutoRec kernel variant in a process of its own (NNMF_KERNEL picks it when the addon
// loads): gradients, item codes, scores and one training epoch must agree to rounding.
const script = `
const fs = require('node:fs');
const addon = require(process.argv[1]);
const j = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const f = (a) => Float32Array.from(a);
const w = { ...j.w, W: f(j.w.W), b: f(j.w.b), V: f(j.w.V), c: f(j.w.c) };
const r = { start: Int32Array.from(j.r.start), users: Int32Array.from(j.r.users), ratings: f(j.r.ratings) };
const order = Int32Array.from({ length: w.nItems }, (_, k) => k);
const g = addon.autorecLossAndGrad(w, { ...r, order }, 1.5);
const codes = addon.autorecCodes(w, r);
const all = new Float32Array(w.nItems);
(async () => {
  await new addon.AutorecServing({ ...w, codes }).scoreAll(2, all);
  const z = (a) => new Float32Array(a.length);
  const model = { ...w, mW: z(w.W), vW: z(w.W), mb: z(w.b), vb: z(w.b), mV: z(w.V), vV: z(w.V), mc: z(w.c), vc: z(w.c) };
  const res = await addon.autorecTrainEpoch(model, { ...r, order }, { batchSize: 4, lr: 0.01, lambda: 1.5, step: 0, threads: 1 });
  const out = { kernel: addon.kernel, loss: g.loss, sse: res.sse };
  for (const [k, v] of Object.entries({ gW: g.gW, gV: g.gV, gb: g.gb, codes, all, W: model.W, V: model.V })) out[k] = Array.from(v);
  process.stdout.write(JSON.stringify(out));
})();
`;

type Outputs = { kernel: string; loss: number; sse: number } & Record<'gW' | 'gV' | 'gb' | 'codes' | 'all' | 'W' | 'V', number[]>;

const addonFile = path.join(projectRoot(), 'build/Release/nnmf_native.node');
const withAddon = loadAutorecNative() ? describe : describe.skip;

withAddon('autorec kernel variants', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autorec-variants-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(file: string, kernel: string | undefined): Outputs {
    const env = { ...process.env };
    delete env.NNMF_KERNEL;
    if (kernel) env.NNMF_KERNEL = kernel;
    return JSON.parse(execFileSync(process.execPath, ['-e', script, addonFile, file], { env, encoding: 'utf8' })) as Outputs;
  }

  test('every variant gives the same gradients, codes, scores and training step', () => {
    const ds = syntheticDataset(30, 20, 10);
    const w = initAutorec(30, 20, resolveAutorec({ hidden: 45, initScale: 3 }), 3);
    const r = ratingsByItem(ds, range(ds.r.length), 20);
    const plain = (o: object) =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [k, ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v]));
    const file = path.join(dir, 'model.json');
    fs.writeFileSync(file, JSON.stringify({ w: plain(w), r: plain(r) }));
    const best = run(file, undefined);
    const outputs = [best, run(file, 'avx2'), run(file, 'generic')];
    expect(outputs[2].kernel).toBe('generic');
    const maxRel = (a: number[], b: number[]) => {
      expect(a).toHaveLength(b.length);
      const s = Math.max(...b.map(Math.abs));
      return a.reduce((m, x, k) => Math.max(m, Math.abs(x - b[k])), 0) / s;
    };
    for (const o of outputs) {
      expect(Math.abs(o.loss - best.loss) / best.loss).toBeLessThan(1e-5);
      expect(Math.abs(o.sse - best.sse) / best.sse).toBeLessThan(1e-5);
      for (const k of ['gW', 'gV', 'gb', 'codes', 'all', 'W', 'V'] as const) expect(maxRel(o[k], best[k])).toBeLessThan(1e-4);
    }
    expect(Math.max(...best.all) - Math.min(...best.all)).toBeGreaterThan(0.01);
  });
});
