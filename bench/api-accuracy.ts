import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomSplit } from '../src/engine/dataset';
import { loadMovielens, movielensCommand } from './movielens';
import { machine, percentile, printTable, runBench, writeResult } from './report';
import { startService, stopService } from './service';

/**
 * The accuracy a user of the service gets: 90% of a MovieLens set imported through HTTP, one
 * training job with the default settings (or --model, --params), then the rating of every pair
 * of the other 10% asked through /predict. While the job runs, /predict is timed every 50 ms
 * against the same measurement taken idle before it.
 */
const PORT = 18093;
const base = `http://127.0.0.1:${PORT}`;

async function json(url: string, init?: RequestInit): Promise<any> {
  const res = await fetch(`${base}${url}`, init);
  const body = await res.json();
  if (res.status >= 400) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

const post = (url: string, body: unknown) =>
  json(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function timedPredict(userId: string, itemId: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  await post('/predict', { userId, itemId });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const { args, dataset, root } = movielensCommand('ml-1m');
  const seed = Number(args.seed ?? 1);
  const ds = loadMovielens(dataset, root);
  const split = randomSplit(ds, seed, 0.1, 0);
  const trainPositions = [...split.validation, ...split.train];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-api-accuracy-'));
  const child = await startService(dataDir, PORT, { ENGINE_THREADS: String(args.threads ?? 1) });
  try {
    const text = trainPositions.map((p) => `${ds.userIds[ds.u[p]]}::${ds.itemIds[ds.i[p]]}::${ds.r[p]}`).join('\n');
    let t0 = Date.now();
    const imported = await json('/ratings/import?format=movielens-1m', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text });
    const importSeconds = (Date.now() - t0) / 1000;
    process.stdout.write(
      `${dataset}: imported ${imported.inserted} ratings through HTTP in ${importSeconds.toFixed(1)} s; ${split.test.length} held out\n`,
    );

    const probeUser = ds.userIds[ds.u[split.test[0]]];
    const probeItem = ds.itemIds[ds.i[split.test[0]]];
    const model = typeof args.model === 'string' ? args.model : null;
    const body: Record<string, unknown> = { type: 'train' };
    if (model) body.model = model;
    if (typeof args.params === 'string') body.params = JSON.parse(args.params);
    // A quick first model, so that /predict has something to answer with while the measured job trains.
    const quick = await post('/jobs', { type: 'train', model: 'nnmf', params: { maxEpochs: 1 } });
    while (!['succeeded', 'failed'].includes((await json(`/jobs/${quick.id}`)).status)) await new Promise((r) => setTimeout(r, 200));
    t0 = Date.now();
    const { id } = await post('/jobs', body);
    const busy: number[] = [];
    let job;
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      job = await json(`/jobs/${id}`);
      if (['succeeded', 'failed', 'cancelled'].includes(job.status)) break;
      if (job.status === 'running') busy.push(await timedPredict(probeUser, probeItem));
      if (Date.now() - t0 > 30 * 60_000) throw new Error('job took over 30 minutes');
    }
    const jobSeconds = (Date.now() - t0) / 1000;
    if (job.status !== 'succeeded') throw new Error(`job ${job.status}: ${job.error}`);
    process.stdout.write(`job ${job.status} in ${jobSeconds.toFixed(1)} s\n`);
    // Idle, sampled the same way (every 50 ms) for as long.
    const idle: number[] = [];
    for (let k = 0; k < Math.max(100, Math.min(busy.length, 1000)); k++) {
      idle.push(await timedPredict(probeUser, probeItem));
      await new Promise((r) => setTimeout(r, 50));
    }

    let se = 0;
    let ae = 0;
    let fallbacks = 0;
    for (let k = 0; k < split.test.length; k += 10_000) {
      const chunk = split.test.subarray(k, k + 10_000);
      const res = await post('/predict', { pairs: Array.from(chunk, (p) => ({ userId: ds.userIds[ds.u[p]], itemId: ds.itemIds[ds.i[p]] })) });
      res.predictions.forEach((pr: { rating: number; fallback: string | null }, j: number) => {
        const e = pr.rating - ds.r[chunk[j]];
        se += e * e;
        ae += Math.abs(e);
        if (pr.fallback) fallbacks++;
      });
    }
    const n = split.test.length;
    const report = job.report;
    const rows: Record<string, string | number>[] = [{ model: `served (${model ?? 'default'})`, testRmse: Math.sqrt(se / n), testMae: ae / n }];
    if (report) {
      rows.push({ model: 'evaluation bucket: blend', testRmse: report.blend.rmse, testMae: report.blend.mae });
      for (const [kind, s] of Object.entries(report.members as Record<string, { rmse: number; mae: number }>)) {
        rows.push({ model: `evaluation bucket: ${kind}`, testRmse: s.rmse, testMae: s.mae });
      }
      rows.push({ model: 'evaluation bucket: user+item bias', testRmse: report.baselines.bias.rmse, testMae: report.baselines.bias.mae });
      rows.push({ model: 'evaluation bucket: global mean', testRmse: report.baselines.globalMean.rmse, testMae: report.baselines.globalMean.mae });
    }
    printTable(rows);
    const latency = {
      idleP50: percentile(idle, 0.5),
      idleP99: percentile(idle, 0.99),
      trainingP50: percentile(busy, 0.5),
      trainingP99: percentile(busy, 0.99),
      trainingSamples: busy.length,
    };
    process.stdout.write(
      `held-out RMSE ${Math.sqrt(se / n).toFixed(4)} over ${n} pairs (${fallbacks} fallbacks); job ${jobSeconds.toFixed(0)} s; ` +
        `/predict p99 idle ${latency.idleP99.toFixed(2)} ms, during training ${latency.trainingP99.toFixed(2)} ms (${busy.length} samples)\n`,
    );
    writeResult(`api-accuracy-${dataset}${model ? `-${model}` : ''}`, {
      dataset,
      seed,
      protocol: '90% imported through POST /ratings/import, one POST /jobs, the other 10% through POST /predict',
      request: body,
      heldOut: n,
      fallbacks,
      testRmse: rows[0].testRmse,
      testMae: rows[0].testMae,
      importSeconds,
      jobSeconds,
      members: job.progress?.members,
      report,
      decision: job.decision,
      latency,
      engineThreads: Number(args.threads ?? 1),
      machine: machine(),
      date: new Date().toISOString(),
    });
  } finally {
    await stopService(child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

runBench(main);
