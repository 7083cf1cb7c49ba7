import { regWeights, type Dataset } from '../src/engine/dataset';
import type { Engine } from '../src/engine/engine';
import { parseArgs } from '../src/cli/args';
import { loadNative } from '../src/engine/native';
import { NativeEngine } from '../src/engine/native-engine';
import { effectiveLambda, resolveParams, type TrainParams } from '../src/engine/params';
import { Rng, range } from '../src/engine/rng';
import { initParams } from '../src/engine/state';
import { TfjsEngine } from '../src/engine/tfjs-engine';
import { runOnKernel } from './kernel-child';
import { machine, printTable, runBench, writeResult } from './report';

const USERS = 6040;
const ITEMS = 3706;
const RATINGS = 900_000;

function syntheticMl1m(): Dataset {
  const rng = new Rng(42);
  const u = new Int32Array(RATINGS);
  const i = new Int32Array(RATINGS);
  const r = new Float32Array(RATINGS);
  for (let k = 0; k < RATINGS; k++) {
    u[k] = Math.floor(rng.next() * USERS);
    i[k] = Math.floor(rng.next() * ITEMS);
    r[k] = 1 + Math.floor(rng.next() * 5);
  }
  return { userIds: Array.from({ length: USERS }, (_, k) => `u${k}`), itemIds: Array.from({ length: ITEMS }, (_, k) => `i${k}`), u, i, r };
}

/** Multiply-adds per rating: forward, backward (data and weights), and the second pass when alternating. */
function flopsPerRating(p: TrainParams): number {
  const x = 2 * p.d + p.dp;
  const [a, b, c] = p.hidden;
  const fwd = x * a + a * b + b * c + c;
  return 2 * (p.alternating ? 5 * fwd : 3 * fwd);
}

async function timeEpoch(engine: Engine, ds: Dataset, p: TrainParams, ratings: number) {
  const params = initParams(
    { nUsers: USERS, nItems: ITEMS, d: p.d, dp: p.dp, h1: p.hidden[0], h2: p.hidden[1], h3: p.hidden[2], useBias: p.useBias },
    1,
  );
  const order = new Rng(7).shuffle(range(RATINGS)).slice(0, ratings);
  const input = {
    data: ds,
    order,
    regU: regWeights(ds.u, order, USERS, effectiveLambda(p, RATINGS, USERS)),
    regI: regWeights(ds.i, order, ITEMS, effectiveLambda(p, RATINGS, USERS)),
    lr: p.lr,
  };
  const batchSize = p.batchSize || 16384;
  const session = await engine.createSession(params, { ...p, batchSize });
  const t0 = process.hrtime.bigint();
  await session.epoch(input, new Int32Array(1));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  session.dispose();
  return secs;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const only = typeof args.only === 'string' ? args.only : null;
  const ds = syntheticMl1m();
  const base = resolveParams({ batchSize: 0 });
  const rows: Record<string, string | number>[] = [];
  const add = (engine: string, detail: string, p: TrainParams, secondsPerEpoch: number, measuredOn: number) => {
    rows.push({
      engine,
      detail,
      threads: p.threads,
      schedule: p.alternating ? 'alternating' : 'joint',
      secondsPerEpoch,
      gflops: (flopsPerRating(p) * RATINGS) / secondsPerEpoch / 1e9,
      measuredOn,
    });
    process.stdout.write(
      `${engine} ${detail} threads=${p.threads} ${p.alternating ? 'alternating' : 'joint'}: ${secondsPerEpoch.toFixed(2)} s/epoch\n`,
    );
  };
  if (loadNative()) {
    const native = new NativeEngine();
    const configs: Partial<TrainParams>[] =
      only === 'native-generic' ? [{}] : [{}, { threads: 2 }, { alternating: false }, { alternating: false, threads: 2 }];
    for (const c of configs) {
      const p = { ...base, ...c };
      await timeEpoch(native, ds, p, 50_000); // warm-up
      const times = [];
      for (let k = 0; k < 3; k++) times.push(await timeEpoch(native, ds, p, RATINGS));
      add('native', native.detail, p, Math.min(...times), RATINGS);
    }
  }
  if (only === 'native-generic') {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  // The portable kernel, for comparison: the same addon forced onto its generic code path.
  try {
    rows.push(...runOnKernel<Record<string, string | number>[]>(__filename, ['--only', 'native-generic'], 'generic'));
  } catch (err) {
    process.stderr.write(`generic kernel run failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  if (!only) {
    // TF.js on the portable backend is far too slow for a whole epoch: time a slice and scale it.
    const tfjs = new TfjsEngine();
    const slice = 4 * 16384;
    const secs = await timeEpoch(tfjs, ds, base, slice);
    add('tfjs', `${tfjs.detail} (timed on ${slice} ratings, scaled)`, base, (secs * RATINGS) / slice, slice);
  }
  printTable(rows);
  writeResult('train-speed', {
    ratings: RATINGS,
    users: USERS,
    items: ITEMS,
    params: base,
    rows,
    machine: machine(),
    date: new Date().toISOString(),
  });
}

runBench(main);
