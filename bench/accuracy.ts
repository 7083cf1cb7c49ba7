import { randomSplit } from '../src/engine/dataset';
import type { EngineName } from '../src/engine/engine';
import { metrics } from '../src/engine/evaluate';
import { resolveJobSettings } from '../src/engine/job-settings';
import { memberKinds } from '../src/engine/kinds';
import { selectEngine } from '../src/engine/select';
import { trainMembers } from '../src/engine/train-ensemble';
import { heldOut } from '../src/engine/trainer';
import { loadMovielens, movielensCommand } from './movielens';
import { machine, printTable, runBench, writeResult } from './report';

const PAPER: Record<string, number> = { 'ml-100k': 0.907, 'ml-1m': 0.843 };

/**
 * The paper's protocol: a random 90/10 split per seed, 2% of the 90% for early stopping (and
 * the blend weights). Every member kind is trained once per seed and scored alone on the 10%,
 * then the blend of all of them.
 */
async function main(): Promise<void> {
  const { args, dataset, overrides, root } = movielensCommand('ml-100k');
  const seeds = Number(args.seeds ?? 3);
  const model = typeof args.model === 'string' ? args.model : 'ensemble';
  const validationFraction = Number(args.validation ?? 0.02);
  const engine = selectEngine((args.engine ?? 'auto') as 'auto' | EngineName);
  const kinds = memberKinds(engine);
  const ds = loadMovielens(dataset, root);
  process.stdout.write(`${dataset}: ${ds.r.length} ratings, ${ds.userIds.length} users, ${ds.itemIds.length} items; engine ${engine.detail}\n`);
  const rows: Record<string, string | number>[] = [];
  const runs = [];
  const scale = { min: 1, max: 5 };
  for (let seed = 1; seed <= seeds; seed++) {
    const settings = resolveJobSettings({ ...overrides, model, seed }, kinds, Number(args.threads ?? 1));
    const split = randomSplit(ds, seed, 0.1, validationFraction);
    const test = heldOut(ds, split.test);
    const t0 = Date.now();
    const res = await trainMembers(ds, split, settings, kinds, {
      scale,
      onEpoch: (kind, p) => process.stderr.write(`\r${kind} epoch ${p.epoch} validation ${p.validationRmse.toFixed(4)}   `),
    });
    process.stderr.write('\n');
    const score = (kind: string, pred: Float32Array, extra: Record<string, number>) => {
      const m = metrics(pred, test.r, scale.min, scale.max);
      const row = { seed, model: kind, testRmse: m.rmse, testRmseClipped: m.rmseClipped, testMae: m.mae, ...extra };
      rows.push(row);
      process.stdout.write(`seed ${seed} ${kind}: test RMSE ${m.rmse.toFixed(4)} (clipped ${m.rmseClipped.toFixed(4)})\n`);
      return row;
    };
    const memberRows = res.model.members.map((m, k) => {
      const s = res.members[k];
      return score(m.kind, m.predict(test.u, test.i), {
        validationRmse: s.validationRmse,
        epochs: s.epochs,
        bestEpoch: s.bestEpoch,
        seconds: s.seconds,
      });
    });
    if (res.model.members.length > 1) score('ensemble', res.model.predict(test.u, test.i), { seconds: (Date.now() - t0) / 1000 });
    runs.push({ seed, blend: res.model.blend, members: res.members, rows: memberRows });
  }
  const kindsSeen = [...new Set(rows.map((r) => r.model as string))];
  const means = kindsSeen.map((kind) => {
    const rs = rows.filter((r) => r.model === kind);
    const mean = (k: string) => rs.reduce((s, r) => s + ((r[k] as number) ?? 0), 0) / rs.length;
    return {
      seed: 'mean',
      model: kind,
      testRmse: mean('testRmse'),
      testRmseClipped: mean('testRmseClipped'),
      testMae: mean('testMae'),
      seconds: mean('seconds'),
    };
  });
  printTable([...rows, ...means]);
  const nnmf = means.find((m) => m.model === 'nnmf');
  const ens = means.find((m) => m.model === 'ensemble');
  process.stdout.write(
    `paper (Dziugaite & Roy 2015, NNMF): ${PAPER[dataset]}; this run: NNMF ${nnmf ? nnmf.testRmse.toFixed(4) : '-'}, ensemble ${ens ? ens.testRmse.toFixed(4) : '-'} (unclipped)\n`,
  );
  writeResult(`accuracy-${dataset}`, {
    dataset,
    engine: engine.detail,
    model,
    overrides,
    split: `90/10 random per seed, ${validationFraction * 100}% of the 90% for validation and blend weights`,
    paper: PAPER[dataset],
    means,
    rows,
    runs,
    machine: machine(),
    date: new Date().toISOString(),
  });
}

runBench(main);
