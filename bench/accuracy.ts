import os from 'node:os';
import { parseArgs } from '../src/cli/args';
import type { EngineName } from '../src/engine/engine';
import { resolveParams } from '../src/engine/params';
import { selectEngine } from '../src/engine/select';
import { train } from '../src/engine/trainer';
import { loadMovielens, movielensRoot } from './movielens';
import { printTable, writeResult } from './report';

const PAPER: Record<string, number> = { 'ml-100k': 0.907, 'ml-1m': 0.843 };

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dataset = (args.dataset ?? 'ml-100k') as 'ml-100k' | 'ml-1m';
  if (!(dataset in PAPER)) throw new Error('--dataset must be ml-100k or ml-1m');
  const seeds = Number(args.seeds ?? 3);
  const root = movielensRoot(typeof args.data === 'string' ? args.data : undefined);
  if (!root) {
    process.stderr.write('MovieLens not found: pass --data PATH (a folder holding ml-100k/ and ml-1m/) or set MOVIELENS_DIR\n');
    process.exit(2);
  }
  const overrides = typeof args.params === 'string' ? (JSON.parse(args.params) as Record<string, unknown>) : {};
  const engine = selectEngine((args.engine ?? 'auto') as 'auto' | EngineName);
  const ds = loadMovielens(dataset, root);
  process.stdout.write(`${dataset}: ${ds.r.length} ratings, ${ds.userIds.length} users, ${ds.itemIds.length} items; engine ${engine.detail}\n`);
  const rows: Record<string, string | number>[] = [];
  const runs = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const params = resolveParams({ ...overrides, seed });
    const t0 = Date.now();
    const res = await train(ds, { engine, params, scale: { min: 1, max: 5 } });
    const wall = (Date.now() - t0) / 1000;
    const row = {
      seed,
      testRmse: res.test!.rmse,
      testRmseClipped: res.test!.rmseClipped,
      testMae: res.test!.mae,
      validationRmse: res.validation.rmse,
      lambda: res.lambda,
      epochs: res.epochs,
      bestEpoch: res.bestEpoch,
      secondsPerEpoch: res.seconds / res.epochs,
      wallSeconds: wall,
    };
    rows.push(row);
    runs.push({ ...row, history: res.history });
    process.stdout.write(`seed ${seed}: test RMSE ${row.testRmse.toFixed(4)} (clipped ${row.testRmseClipped.toFixed(4)}) after ${row.epochs} epochs, ${wall.toFixed(1)} s\n`);
  }
  const mean = (k: string) => rows.reduce((s, r) => s + (r[k] as number), 0) / rows.length;
  const summary = {
    seed: 'mean',
    testRmse: mean('testRmse'),
    testRmseClipped: mean('testRmseClipped'),
    testMae: mean('testMae'),
    validationRmse: mean('validationRmse'),
    lambda: mean('lambda'),
    epochs: mean('epochs'),
    bestEpoch: mean('bestEpoch'),
    secondsPerEpoch: mean('secondsPerEpoch'),
    wallSeconds: mean('wallSeconds'),
  };
  printTable([...rows, summary]);
  process.stdout.write(`paper (Dziugaite & Roy 2015): ${PAPER[dataset]}; this run: ${summary.testRmse.toFixed(4)} unclipped, ${summary.testRmseClipped.toFixed(4)} clipped\n`);
  writeResult(`accuracy-${dataset}`, {
    dataset,
    engine: engine.detail,
    params: resolveParams(overrides),
    split: '90/10 random per seed, 2% of train for validation',
    paper: PAPER[dataset],
    mean: summary,
    runs,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    date: new Date().toISOString(),
  });
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
