import { randomSplit } from '../src/engine/dataset';
import { metrics } from '../src/engine/evaluate';
import { autorecKind } from '../src/engine/autorec';
import { loadAutorecNative } from '../src/engine/autorec/native';
import { loadMovielens, movielensCommand } from './movielens';
import { machine, printTable, runBench, writeResult } from './report';

// Sedhain et al. 2015, I-AutoRec on MovieLens-1M (90/10 split); the PyTorch figure is the same
// protocol as here (85% train, 5% early stopping, 10% test).
const REFERENCE = { paper: 0.831, pytorch: 0.8355 };

async function main(): Promise<void> {
  const { args, dataset, overrides, root } = movielensCommand('ml-1m');
  const seeds = Number(args.seeds ?? 1);
  const addon = loadAutorecNative();
  if (!addon) throw new Error('autorec needs the native kernel (npm run build:native)');
  const threads = Number(args.threads ?? 1);
  const quiet = args.quiet === true || args.quiet === 'true';
  const ds = loadMovielens(dataset, root);
  process.stdout.write(
    `${dataset}: ${ds.r.length} ratings, ${ds.userIds.length} users, ${ds.itemIds.length} items; kernel ${addon.kernel}, ${threads} thread(s)\n`,
  );
  const scale = { min: 1, max: 5 };
  const rows: Record<string, string | number>[] = [];
  const runs = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const settings = autorecKind.resolve({ ...overrides, seed });
    // 10% test, then 5% of all ratings (5/90 of the rest) for early stopping, 85% training.
    const split = randomSplit(ds, seed, 0.1, 0.05 / 0.9);
    const t0 = Date.now();
    const res = await autorecKind.train(ds, { train: split.train, validation: split.validation }, settings, {
      scale,
      threads,
      onEpoch: (p) => {
        if (!quiet)
          process.stdout.write(
            `  epoch ${p.epoch}: train ${p.trainRmse.toFixed(4)} validation ${p.validationRmse.toFixed(4)} (${p.seconds.toFixed(2)} s)${p.best ? ' *' : ''}\n`,
          );
      },
    });
    const wall = (Date.now() - t0) / 1000;
    const tu = Int32Array.from(split.test, (p) => ds.u[p]);
    const ti = Int32Array.from(split.test, (p) => ds.i[p]);
    const tr = Float32Array.from(split.test, (p) => ds.r[p]);
    const test = metrics(res.member.predict(tu, ti), tr, scale.min, scale.max);
    const row = {
      seed,
      testRmseClipped: test.rmseClipped,
      testRmse: test.rmse,
      testMae: test.mae,
      validationRmse: res.validationRmse,
      epochs: res.epochs,
      bestEpoch: res.bestEpoch,
      secondsPerEpoch: res.seconds / res.epochs,
      wallSeconds: wall,
    };
    rows.push(row);
    runs.push({ ...row, settings, history: res.history });
    process.stdout.write(
      `seed ${seed}: test RMSE ${test.rmseClipped.toFixed(4)} clipped (${test.rmse.toFixed(4)} raw) after ${res.epochs} epochs, ${wall.toFixed(1)} s\n`,
    );
  }
  const mean = (k: string) => rows.reduce((s, r) => s + (r[k] as number), 0) / rows.length;
  const keys = Object.keys(rows[0]).filter((k) => k !== 'seed');
  const summary: Record<string, string | number> = { seed: 'mean', ...Object.fromEntries(keys.map((k) => [k, mean(k)])) };
  printTable([...rows, summary]);
  process.stdout.write(
    `reference: paper ${REFERENCE.paper}, PyTorch on this protocol ${REFERENCE.pytorch}; this run ${(summary.testRmseClipped as number).toFixed(4)} clipped\n`,
  );
  writeResult(`autorec-accuracy-${dataset}`, {
    dataset,
    kernel: addon.kernel,
    threads,
    settings: autorecKind.resolve(overrides),
    split: '10% test, 5% early stopping, 85% training; random per seed',
    reference: REFERENCE,
    mean: summary,
    runs,
    machine: machine(),
    date: new Date().toISOString(),
  });
}

runBench(main);
