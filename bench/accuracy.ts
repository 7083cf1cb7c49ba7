import { randomSplit } from '../src/engine/dataset';
import type { EngineName } from '../src/engine/engine';
import { metrics } from '../src/engine/evaluate';
import { resolveJobSettings } from '../src/engine/job-settings';
import { memberKinds } from '../src/engine/kinds';
import { selectEngine } from '../src/engine/select';
import { blendMembers, trainMembers } from '../src/engine/train-ensemble';
import { heldOut } from '../src/engine/trainer';
import { loadMovielens, movielensCommand } from './movielens';
import { machine, printTable, runBench, writeResult } from './report';

const PAPER: Record<string, number> = { 'ml-100k': 0.907, 'ml-1m': 0.843 };

/**
 * The paper's protocol: a random 90/10 split per seed, 2% of the 90% for early stopping (and
 * the blend weights). Every member kind is trained once per seed and scored alone on the 10%,
 * then the blend of all of them, and NNMF as a job with "model":"nnmf" serves it (its default
 * networks blended; the first is the ensemble's NNMF member). `--nnmf-alone false` skips that.
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
    const labels = res.model.labels;
    const memberRows = res.model.members.map((m, k) => {
      const s = res.members[k];
      return score(labels[k], m.predict(test.u, test.i), {
        validationRmse: s.validationRmse,
        epochs: s.epochs,
        bestEpoch: s.bestEpoch,
        seconds: s.seconds,
      });
    });
    const blendName = model === 'ensemble' ? 'ensemble' : `${model} ×${res.model.members.length}`;
    if (res.model.members.length > 1) score(blendName, res.model.predict(test.u, test.i), { seconds: (Date.now() - t0) / 1000 });
    let alone = null;
    if (model === 'ensemble' && args['nnmf-alone'] !== 'false' && kinds.has('nnmf')) {
      // NNMF as a job with "model":"nnmf" trains it: its first network is the ensemble's NNMF member (the same seed and settings), the others are trained now.
      const t1 = Date.now();
      const own = resolveJobSettings({ ...overrides, model: 'nnmf', seed }, kinds, Number(args.threads ?? 1));
      const k0 = res.model.kinds.indexOf('nnmf');
      const first = res.model.members[k0];
      const same = JSON.stringify({ ...own.members[0].settings, networks: 1 }) === JSON.stringify({ ...settings.members[k0].settings, networks: 1 });
      const rest = await trainMembers(ds, split, { members: own.members.slice(same ? 1 : 0), threads: own.threads }, kinds, {
        scale,
        onEpoch: (kind, p) => process.stderr.write(`\r${kind} (alone) epoch ${p.epoch} validation ${p.validationRmse.toFixed(4)}   `),
      });
      process.stderr.write('\n');
      const nets = [...(same ? [first] : []), ...rest.model.members];
      const blended = await blendMembers(ds, split.validation, nets, scale);
      const seconds = (same ? res.members[k0].seconds : 0) + (Date.now() - t1) / 1000;
      score(`nnmf ×${nets.length}`, blended.predict(test.u, test.i), { seconds });
      alone = { reusedFirstNetwork: same, blend: blended.blend, members: rest.members };
    }
    runs.push({ seed, blend: res.model.blend, members: res.members, rows: memberRows, nnmfAlone: alone });
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
  const fmt = (name: string) => {
    const m = means.find((r) => r.model === name);
    return m ? m.testRmse.toFixed(4) : '-';
  };
  const served = kindsSeen.find((k) => k.startsWith('nnmf ×'));
  process.stdout.write(
    `paper (Dziugaite & Roy 2015, NNMF): ${PAPER[dataset]}; this run: NNMF one network ${fmt('nnmf')}` +
      `${served ? `, NNMF as served alone (${served}) ${fmt(served)}` : ''}, ensemble ${fmt('ensemble')} (unclipped)\n`,
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
