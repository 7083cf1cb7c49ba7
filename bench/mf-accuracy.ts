import { randomSplit } from '../src/engine/dataset';
import { metrics } from '../src/engine/evaluate';
import { mfKind } from '../src/engine/mf';
import { loadMovielens, movielensCommand } from './movielens';
import { machine, printTable, runBench, writeResult } from './report';

// A PyTorch biased MF under the same protocol (85% train, 5% early stopping, 10% test).
const REFERENCE_RMSE = 0.8479;

async function main(): Promise<void> {
  const { args, dataset, overrides, root } = movielensCommand('ml-1m');
  const seeds = Number(args.seeds ?? 3);
  const threads = Number(args.threads ?? 1);
  const ds = loadMovielens(dataset, root);
  process.stdout.write(
    `${dataset}: ${ds.r.length} ratings, ${ds.userIds.length} users, ${ds.itemIds.length} items; mf ${JSON.stringify(mfKind.resolve(overrides))}\n`,
  );
  const rows: Record<string, string | number>[] = [];
  const runs = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const settings = mfKind.resolve({ ...overrides, seed });
    // 10% test, then 5% of all ratings (5/90 of the rest) for early stopping, 85% to train.
    const split = randomSplit(ds, seed, 0.1, 5 / 90);
    const res = await mfKind.train(ds, split, settings, { scale: { min: 1, max: 5 }, threads });
    const test = metrics(
      res.member.predict(
        Int32Array.from(split.test, (p) => ds.u[p]),
        Int32Array.from(split.test, (p) => ds.i[p]),
      ),
      Float32Array.from(split.test, (p) => ds.r[p]),
      1,
      5,
    );
    const row = {
      seed,
      testRmse: test.rmse,
      testRmseClipped: test.rmseClipped,
      testMae: test.mae,
      validationRmse: res.validationRmse,
      epochs: res.epochs,
      bestEpoch: res.bestEpoch,
      secondsPerEpoch: res.seconds / res.epochs,
      seconds: res.seconds,
    };
    rows.push(row);
    runs.push({ ...row, history: res.history });
    process.stdout.write(
      `seed ${seed}: test RMSE ${test.rmse.toFixed(4)} (clipped ${test.rmseClipped.toFixed(4)}), best epoch ${res.bestEpoch} of ${res.epochs}, ${res.seconds.toFixed(1)} s\n`,
    );
  }
  const mean = (k: string) => rows.reduce((s, r) => s + (r[k] as number), 0) / rows.length;
  const summary: Record<string, string | number> = { seed: 'mean' };
  for (const k of Object.keys(rows[0]).filter((c) => c !== 'seed')) summary[k] = mean(k);
  printTable([...rows, summary]);
  process.stdout.write(
    `reference (PyTorch biased MF, same protocol): ${REFERENCE_RMSE}; this run: ${(summary.testRmse as number).toFixed(4)} unclipped\n`,
  );
  writeResult(`mf-accuracy-${dataset}`, {
    dataset,
    settings: mfKind.resolve(overrides),
    threads,
    split: '85/5/10 random per seed (train / early stopping / test)',
    reference: REFERENCE_RMSE,
    mean: summary,
    runs,
    machine: machine(),
    date: new Date().toISOString(),
  });
}

runBench(main);
