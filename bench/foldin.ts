import { parseArgs } from '../src/cli/args';
import type { CheckpointMeta } from '../src/engine/checkpoint';
import { datasetFromTriples, randomSplit, type Dataset } from '../src/engine/dataset';
import type { EngineName } from '../src/engine/engine';
import { resolveJobSettings } from '../src/engine/job-settings';
import { memberKinds } from '../src/engine/kinds';
import { Predictor, type UserView } from '../src/engine/predictor';
import { Rng } from '../src/engine/rng';
import { selectEngine } from '../src/engine/select';
import { summarize } from '../src/engine/summary';
import { trainMembers } from '../src/engine/train-ensemble';
import { loadMovielens, movielensRoot } from './movielens';
import { machine, printTable, runBench, writeResult } from './report';

type Triple = [string, string, number];
const scale = { min: 1, max: 5 };

/** Fisher–Yates over a copy, seeded. */
function shuffled<T>(rng: Rng, a: readonly T[]): T[] {
  const out = a.slice();
  for (let k = out.length - 1; k > 0; k--) {
    const j = Math.floor(rng.next() * (k + 1));
    [out[k], out[j]] = [out[j], out[k]];
  }
  return out;
}

const rmse = (pred: number[], truth: number[]) => Math.sqrt(pred.reduce((s, p, k) => s + (p - truth[k]) ** 2, 0) / pred.length);
const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Trains the job's default model (or --model) on a dataset as a job would (2% validation), served by a Predictor. */
async function train(
  ds: Dataset,
  model: string,
  seed: number,
  threads: number,
  engineName: string,
): Promise<{ predictor: Predictor; seconds: number }> {
  const engine = selectEngine(engineName as 'auto' | EngineName);
  const kinds = memberKinds(engine);
  const settings = resolveJobSettings({ model, seed }, kinds, threads);
  const split = randomSplit(ds, seed, 0, 0.02);
  const t0 = Date.now();
  const res = await trainMembers(ds, split, settings, kinds, {
    scale,
    onEpoch: (kind, p) => process.stderr.write(`\r${kind} epoch ${p.epoch} validation ${p.validationRmse.toFixed(4)}   `),
  });
  process.stderr.write('\n');
  const meta = { userIds: ds.userIds, itemIds: ds.itemIds, scale, summary: summarize(ds, split.train) } as unknown as CheckpointMeta;
  return { predictor: new Predictor('bench', meta, res.model), seconds: (Date.now() - t0) / 1000 };
}

/**
 * Fold-in against retraining on MovieLens-1M: 500 users are held out of training; each is
 * folded in from half of their ratings (the model frozen) and scored on the other half, next to
 * the item-mean fallback and next to a model retrained with those first halves included.
 */
runBench(async () => {
  const args = parseArgs(process.argv.slice(2));
  const root = movielensRoot(typeof args.data === 'string' ? args.data : undefined);
  if (!root) {
    process.stderr.write('MovieLens not found: pass --data PATH (a folder holding ml-1m/) or set MOVIELENS_DIR\n');
    process.exit(2);
  }
  const model = typeof args.model === 'string' ? args.model : 'ensemble';
  const users = Number(args.users ?? 500);
  const seed = Number(args.seed ?? 1);
  const threads = Number(args.threads ?? 1);
  const engine = typeof args.engine === 'string' ? args.engine : 'auto';
  const ds = loadMovielens('ml-1m', root);
  const byUser = new Map<string, Triple[]>();
  for (let k = 0; k < ds.u.length; k++) {
    const id = ds.userIds[ds.u[k]];
    let list = byUser.get(id);
    if (!list) byUser.set(id, (list = []));
    list.push([id, ds.itemIds[ds.i[k]], ds.r[k]]);
  }
  const rng = new Rng(seed);
  const chosen = new Set(shuffled(rng, [...byUser.keys()]).slice(0, users));
  const firstHalf = new Map<string, Triple[]>();
  const secondHalf = new Map<string, Triple[]>();
  const base: Triple[] = [];
  for (const [id, list] of byUser) {
    if (!chosen.has(id)) {
      base.push(...list);
      continue;
    }
    const mixed = shuffled(rng, list);
    const h = Math.ceil(mixed.length / 2);
    firstHalf.set(id, mixed.slice(0, h));
    secondHalf.set(id, mixed.slice(h));
  }
  process.stdout.write(`ml-1m: ${base.length} ratings of ${byUser.size - users} users train; ${users} users held out; model ${model}\n`);

  const a = await train(datasetFromTriples(base), model, seed, threads, engine);
  const truth: number[] = [];
  const folded: number[] = [];
  const fallback: number[] = [];
  const latency: number[] = [];
  for (const id of chosen) {
    const t0 = process.hrtime.bigint();
    const row = await a.predictor.foldIn(
      id,
      firstHalf.get(id)!.map(([, itemId, rating]) => ({ itemId, rating })),
    );
    latency.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const pairs = secondHalf.get(id)!.map(([userId, itemId]) => ({ userId, itemId }));
    const views = new Map<string, UserView>([[id, row ? { kind: 'folded', row } : { kind: 'none' }]]);
    a.predictor.predict(pairs, views).forEach((p) => folded.push(p.rating));
    a.predictor.predict(pairs, new Map<string, UserView>([[id, { kind: 'none' }]])).forEach((p) => fallback.push(p.rating));
    for (const [, , r] of secondHalf.get(id)!) truth.push(r);
  }
  // Fold-in of exactly 100 ratings, for the users who have that many in all.
  const latency100: number[] = [];
  for (const id of chosen) {
    const all = [...firstHalf.get(id)!, ...secondHalf.get(id)!];
    if (all.length < 100) continue;
    const t0 = process.hrtime.bigint();
    await a.predictor.foldIn(
      id,
      all.slice(0, 100).map(([, itemId, rating]) => ({ itemId, rating })),
    );
    latency100.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }

  const withHalves = base.concat(...firstHalf.values());
  const b = await train(datasetFromTriples(withHalves), model, seed, threads, engine);
  const retrained: number[] = [];
  for (const id of chosen) {
    const pairs = secondHalf.get(id)!.map(([userId, itemId]) => ({ userId, itemId }));
    b.predictor.predict(pairs).forEach((p) => retrained.push(p.rating));
  }

  const result = {
    foldinRmse: rmse(folded, truth),
    itemMeanRmse: rmse(fallback, truth),
    retrainedRmse: rmse(retrained, truth),
    heldOutRatings: truth.length,
    foldinMs: { p50: pct(latency, 0.5), p90: pct(latency, 0.9), p99: pct(latency, 0.99), max: Math.max(...latency) },
    foldin100Ms: { users: latency100.length, p50: pct(latency100, 0.5), p90: pct(latency100, 0.9), p99: pct(latency100, 0.99) },
    trainSeconds: { base: a.seconds, retrained: b.seconds },
  };
  printTable([
    { method: 'fold-in (model frozen, first half)', rmse: result.foldinRmse.toFixed(4) },
    { method: 'item-mean fallback', rmse: result.itemMeanRmse.toFixed(4) },
    { method: 'retrained with the first halves', rmse: result.retrainedRmse.toFixed(4) },
  ]);
  printTable([
    {
      fold_in: 'half of each user (ms)',
      p50: result.foldinMs.p50.toFixed(2),
      p90: result.foldinMs.p90.toFixed(2),
      p99: result.foldinMs.p99.toFixed(2),
    },
    {
      fold_in: `100 ratings, ${latency100.length} users (ms)`,
      p50: result.foldin100Ms.p50.toFixed(2),
      p90: result.foldin100Ms.p90.toFixed(2),
      p99: result.foldin100Ms.p99.toFixed(2),
    },
  ]);
  process.stdout.write(
    `fold-in vs item mean: ${(result.itemMeanRmse - result.foldinRmse).toFixed(4)} better (target >= 0.05); vs retraining: ${(result.foldinRmse - result.retrainedRmse).toFixed(4)} worse (target <= 0.02)\n`,
  );
  writeResult(`foldin-ml-1m-${model}`, { model, users, seed, threads, ...result, machine: machine(), date: new Date().toISOString() });
});
