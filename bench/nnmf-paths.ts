import { randomSplit, type Dataset } from '../src/engine/dataset';
import { metrics } from '../src/engine/evaluate';
import { resolveJobSettings } from '../src/engine/job-settings';
import { memberKinds } from '../src/engine/kinds';
import type { MemberSplit } from '../src/engine/member';
import { selectEngine } from '../src/engine/select';
import { trainEnsemble, trainMembers } from '../src/engine/train-ensemble';
import { loadMovielens, movielensCommand } from './movielens';
import { machine, printTable, runBench, writeResult } from './report';

/**
 * NNMF trained the way a job of the service trains it and the way bench:accuracy does, on the
 * same 90% of a MovieLens set and scored on the same 10%, without the HTTP round trips of
 * bench:api-accuracy, to find where the two paths part.
 *
 *   --path service        the job's path: the ratings in the order a snapshot of the imported
 *                         90% reads them, the stable buckets (2% validation, 2% evaluation)
 *   --path paper          bench:accuracy's path: the file's order, 2% of the 90% at random for
 *                         early stopping, the rest trains
 *   --path paper-order    the paper's split, but the ratings (and so the indexes, the initial
 *                         weights and every epoch's order) as the service reads them
 *   --seed N              the 90/10 split (as bench:accuracy's and bench:api-accuracy's --seed)
 *   --params JSON         job params (NNMF settings, validationFraction, evaluationFraction)
 */

/**
 * The ratings at `positions` as a snapshot of the service reads them after they were imported
 * in that order: users and items numbered by first appearance in the import, rows in
 * (user, item) order (the ratings table's primary key), indexes by first appearance in that scan.
 */
function asImported(ds: Dataset, positions: Int32Array): { ds: Dataset; from: Int32Array } {
  const uid = new Map<number, number>();
  const iid = new Map<number, number>();
  for (const p of positions) {
    if (!uid.has(ds.u[p])) uid.set(ds.u[p], uid.size);
    if (!iid.has(ds.i[p])) iid.set(ds.i[p], iid.size);
  }
  const rows = Array.from(positions).sort((a, b) => uid.get(ds.u[a])! - uid.get(ds.u[b])! || iid.get(ds.i[a])! - iid.get(ds.i[b])!);
  const users = new Map<number, number>();
  const items = new Map<number, number>();
  const n = rows.length;
  const out: Dataset = { userIds: [], itemIds: [], u: new Int32Array(n), i: new Int32Array(n), r: new Float32Array(n) };
  rows.forEach((p, k) => {
    let a = users.get(ds.u[p]);
    if (a === undefined) users.set(ds.u[p], (a = out.userIds.push(ds.userIds[ds.u[p]]) - 1));
    let b = items.get(ds.i[p]);
    if (b === undefined) items.set(ds.i[p], (b = out.itemIds.push(ds.itemIds[ds.i[p]]) - 1));
    out.u[k] = a;
    out.i[k] = b;
    out.r[k] = ds.r[p];
  });
  return { ds: out, from: Int32Array.from(rows) };
}

async function main(): Promise<void> {
  const { args, dataset, overrides, root } = movielensCommand('ml-1m');
  const seed = Number(args.seed ?? 1);
  const path = String(args.path ?? 'service');
  if (!['service', 'paper', 'paper-order'].includes(path)) throw new Error('--path must be service, paper or paper-order');
  const threads = Number(args.threads ?? 1);
  const engine = selectEngine('auto');
  const kinds = memberKinds(engine);
  const scale = { min: 1, max: 5 };
  const full = loadMovielens(dataset, root);
  // The same shuffle as bench:accuracy (the test 10% does not depend on the validation share).
  const paper = randomSplit(full, seed, 0.1, 0.02);
  const settings = resolveJobSettings({ ...overrides, model: 'nnmf' }, kinds, threads);

  let ds = full;
  let model;
  let counts: Record<string, number>;
  let evaluationRmse: number | null = null;
  const t0 = Date.now();
  const onEpoch = (_k: string, p: { epoch: number; validationRmse: number }) =>
    process.stderr.write(`\repoch ${p.epoch} validation ${p.validationRmse.toFixed(4)}   `);
  let summary;
  if (path === 'paper') {
    const res = await trainMembers(full, paper, settings, kinds, { scale, onEpoch });
    model = res.model;
    summary = res.members[0];
    counts = { train: paper.train.length, validation: paper.validation.length };
  } else {
    // Imported as bench:api-accuracy imports them: the paper split's validation share, then its training share.
    const imported = asImported(full, Int32Array.from([...paper.validation, ...paper.train]));
    ds = imported.ds;
    if (path === 'service') {
      const res = await trainEnsemble(ds, settings, kinds, { scale, onEpoch });
      model = res.model;
      summary = res.members[0];
      evaluationRmse = res.report?.blend.rmse ?? null;
      counts = { train: res.buckets.train.length, validation: res.buckets.validation.length, evaluation: res.buckets.evaluation.length };
    } else {
      const at = new Map<number, number>();
      imported.from.forEach((p, k) => at.set(p, k));
      const split: MemberSplit = {
        train: Int32Array.from(paper.train, (p) => at.get(p)!),
        validation: Int32Array.from(paper.validation, (p) => at.get(p)!),
      };
      const res = await trainMembers(ds, split, settings, kinds, { scale, onEpoch });
      model = res.model;
      summary = res.members[0];
      counts = { train: split.train.length, validation: split.validation.length };
    }
  }
  process.stderr.write('\n');

  // The test pairs in the trained data set's indexes; a user or item it never saw gets the training mean (the service's fallback is similar).
  const userAt = new Map(ds.userIds.map((id, k) => [id, k]));
  const itemAt = new Map(ds.itemIds.map((id, k) => [id, k]));
  const n = paper.test.length;
  const tu = new Int32Array(n);
  const ti = new Int32Array(n);
  const tr = new Float32Array(n);
  const known: number[] = [];
  paper.test.forEach((p, k) => {
    const a = userAt.get(full.userIds[full.u[p]]);
    const b = itemAt.get(full.itemIds[full.i[p]]);
    tr[k] = full.r[p];
    if (a !== undefined && b !== undefined) {
      tu[k] = a;
      ti[k] = b;
      known.push(k);
    }
  });
  let mean = 0;
  for (const v of ds.r) mean += v;
  mean /= ds.r.length;
  const pred = new Float32Array(n).fill(mean);
  const kn = Int32Array.from(known);
  const scored = model.predict(
    Int32Array.from(kn, (k) => tu[k]),
    Int32Array.from(kn, (k) => ti[k]),
  );
  kn.forEach((k, j) => (pred[k] = scored[j]));
  const m = metrics(pred, tr, scale.min, scale.max);
  const row = {
    path,
    seed,
    testRmse: m.rmse,
    testRmseClipped: m.rmseClipped,
    validationRmse: summary.validationRmse,
    evaluationRmse: evaluationRmse ?? '',
    epochs: summary.epochs,
    bestEpoch: summary.bestEpoch,
    unknownPairs: n - kn.length,
    seconds: (Date.now() - t0) / 1000,
  };
  printTable([row]);
  process.stdout.write(`counts ${JSON.stringify(counts)}; params ${JSON.stringify(overrides)}\n`);
  const tag = Object.entries(overrides)
    .map(([k, v]) => `-${k}${String(v)}`)
    .join('');
  writeResult(`nnmf-paths-${dataset}-${path}-seed${seed}${tag}`, {
    dataset,
    ...row,
    counts,
    overrides,
    settings: settings.members[0].settings,
    history: summary.history,
    machine: machine(),
    date: new Date().toISOString(),
  });
}

runBench(main);
