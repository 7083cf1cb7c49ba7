/**
 * NNMF fold-in cost alone: one user's row fitted to n ratings (and one item's row to n raters)
 * at MovieLens-1M's shape with the default settings, in the kernel, for several n; then the
 * ridge solver of MF's and I-AutoRec's closed-form fold-ins at their row widths. Timing does not
 * depend on the values of the weights, so the model is initialised, not trained. With
 * `--baseline FILE` another build of the addon is timed in the same run, alternating with this
 * one, so the two can be compared as a ratio on a shared machine.
 *
 *   node dist/bench/foldin-speed.js [--sizes 20,100,1000] [--reps 50] [--baseline path/to/nnmf_native.node]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadNative, type NativeAddon } from '../src/engine/native';
import { FOLD_IN_LR, FOLD_IN_STEPS, nnmfDims } from '../src/engine/nnmf-member';
import { DEFAULT_PARAMS, LAMBDA_PER_RATING } from '../src/engine/params';
import { Rng } from '../src/engine/rng';
import { initParams } from '../src/engine/state';
import { machine, percentile, printTable, runBench, writeResult } from './report';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '20,100,1000' }, reps: { type: 'string', default: '50' }, baseline: { type: 'string' } },
});
const SIZES = args.sizes.split(',').map(Number);
/** (features, ratings) of the ridge solves timed: MF's rows, then I-AutoRec's. */
const RIDGE_SHAPES: [number, number][] = [
  [65, 20],
  [65, 100],
  [65, 1000],
  [501, 100],
  [501, 400],
  [501, 600],
  [501, 1200],
];
const REPS = Number(args.reps);
const dims = { nUsers: 6040, nItems: 3706 };

async function main(): Promise<void> {
  const current = loadNative();
  if (!current) throw new Error('the native kernel is not built');
  const builds: [string, NativeAddon][] = [['this build', current]];
  if (args.baseline) {
    if (!fs.existsSync(args.baseline)) throw new Error(`${args.baseline} not found`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a second build of the addon, from a path given on the command line
    builds.push(['baseline', require(path.resolve(args.baseline)) as NativeAddon]);
  }
  const p = initParams(nnmfDims(DEFAULT_PARAMS, dims), 1, 0.1);
  const R = p.d + p.dp + 1;
  const rng = new Rng(2);
  const rows: Record<string, string | number>[] = [];
  console.log(`NNMF fold-in, ML-1M shape, ${FOLD_IN_STEPS} Adam steps, ${REPS} runs per size (kernel: ${current.kernel})`);
  for (const side of ['user', 'item'] as const) {
    for (const n of SIZES) {
      const others = new Set<number>();
      const nOthers = side === 'user' ? dims.nItems : dims.nUsers;
      while (others.size < Math.min(n, nOthers)) others.add(Math.floor(rng.next() * nOthers));
      const idx = Int32Array.from(others);
      const ratings = Float32Array.from(idx, () => 1 + Math.floor(rng.next() * 5));
      const opts = { lambda: LAMBDA_PER_RATING * idx.length, lr: FOLD_IN_LR, steps: FOLD_IN_STEPS };
      const times = await timeAlternately(builds, REPS, async (addon) => {
        const row = (side === 'user' ? p.users : p.items).slice(0, R);
        const t0 = process.hrtime.bigint();
        if (side === 'user') await addon.foldIn(p, idx, ratings, row, opts);
        else await addon.foldInItem(p, idx, ratings, row, opts);
        return Number(process.hrtime.bigint() - t0) / 1e6;
      });
      builds.forEach(([name], b) => {
        const t = times[b];
        rows.push({ side, ratings: idx.length, build: name, 'p50 ms': percentile(t, 0.5), 'p90 ms': percentile(t, 0.9), 'max ms': Math.max(...t) });
      });
    }
  }
  printTable(rows);
  const ridgeRows = await ridgeTimes(builds, rng);
  printTable(ridgeRows);
  writeResult('foldin-speed', { machine: machine(), steps: FOLD_IN_STEPS, reps: REPS, kernel: current.kernel, rows, ridgeRows });
}

/**
 * Milliseconds of `run` on each build, `reps` times, the builds taking turns so that the machine's
 * load falls on them alike; a first round warms up and is not counted.
 */
async function timeAlternately(builds: [string, NativeAddon][], reps: number, run: (addon: NativeAddon) => Promise<number>): Promise<number[][]> {
  const times = builds.map(() => [] as number[]);
  for (let k = 0; k <= reps; k++) {
    for (let b = 0; b < builds.length; b++) {
      const ms = await run(builds[b][1]);
      if (k > 0) times[b].push(ms);
    }
  }
  return times;
}

/**
 * The closed-form fold-ins' solver alone: MF's rows have 65 features (k 64 and the bias),
 * I-AutoRec's user rows 501 (500 hidden units and the bias); fewer ratings than features take
 * the dual system, as many or more the primal.
 */
async function ridgeTimes(builds: [string, NativeAddon][], rng: Rng): Promise<Record<string, string | number>[]> {
  const rows: Record<string, string | number>[] = [];
  for (const [p, n] of RIDGE_SHAPES) {
    const X = Float32Array.from({ length: n * p }, () => rng.normal() * 0.3);
    const y = Float32Array.from({ length: n }, () => rng.normal());
    const lambda = new Float32Array(p).fill(5);
    const reps = Math.max(5, Math.round(REPS / Math.max(1, (n * p * p) / 2e7)));
    const times = await timeAlternately(builds, reps, async (addon) => {
      const t0 = process.hrtime.bigint();
      await addon.ridge(X, y, lambda);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    });
    builds.forEach(([name], b) => {
      const t = times[b];
      rows.push({ features: p, ratings: n, system: n < p ? 'dual' : 'primal', build: name, 'p50 ms': percentile(t, 0.5), 'max ms': Math.max(...t) });
    });
  }
  return rows;
}

runBench(main);
