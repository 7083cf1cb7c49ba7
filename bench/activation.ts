/**
 * How long activating a model holds the request thread: two ensembles (the default job) are
 * trained on MovieLens-1M, then activated in turn through POST /models/{id}/activate while
 * /health is requested every 5 ms; the longest /health wait during an activation is the time the
 * request thread could not answer.
 *
 *   npm run bench:activation -- [--data PATH] [--work DIR] [--rounds 6] [--max-epochs 2]
 *
 * --work keeps the data folder (and its trained models) for later runs; without it a temporary
 * folder is used and removed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from '../src/cli/args';
import { movielensRoot } from './movielens';
import { printTable, runBench, writeResult } from './report';
import { agent, jobEnd, json, probe, quantiles, scrapeMetrics, send, serverSide, startServer, stopServer, usePort } from './service-probe';

const PROBE_MS = 5;

async function trainedModels(root: string, maxEpochs: number): Promise<string[]> {
  const listed = (await json('GET', '/models?limit=10')) as { models: { id: string; kind: string }[] };
  const ensembles = listed.models.filter((m) => m.kind === 'ensemble').map((m) => m.id);
  if (ensembles.length >= 2) return ensembles.slice(0, 2);
  const file = ['ratings.dat', 'ratings_no_timestamps.dat'].map((f) => path.join(root, 'ml-1m', f)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`no MovieLens-1M ratings under ${root}`);
  const stats = (await json('GET', '/stats')) as { ratings: number };
  if (stats.ratings === 0) {
    process.stdout.write('importing MovieLens-1M...\n');
    const res = await send('POST', '/ratings/import?format=movielens-1m&atomic=true', fs.createReadStream(file), 'text/plain');
    if (res.status !== 200) throw new Error(`import answered ${res.status}: ${res.body}`);
  }
  while (ensembles.length < 2) {
    process.stdout.write(`training an ensemble (maxEpochs ${maxEpochs})...\n`);
    const job = await json('POST', '/jobs', { type: 'train', params: { maxEpochs } });
    const end = await jobEnd(job.id);
    if (end.status !== 'succeeded') throw new Error(`training ${end.status}: ${end.error}`);
    ensembles.push(end.modelId);
  }
  return ensembles;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = movielensRoot(typeof args.data === 'string' ? args.data : undefined);
  if (!root) throw new Error('MovieLens not found: pass --data PATH or set MOVIELENS_DIR');
  const rounds = Number(args.rounds ?? 6);
  const keep = typeof args.work === 'string';
  const dir = keep ? path.resolve(args.work as string) : fs.mkdtempSync(path.join(os.tmpdir(), 'reco-bench-activation-'));
  fs.mkdirSync(dir, { recursive: true });
  usePort(18094);
  const started = performance.now();
  let server = await startServer(dir);
  const startSeconds = (performance.now() - started) / 1000;
  try {
    const ids = await trainedModels(root, Number(args['max-epochs'] ?? 2));
    let before = await scrapeMetrics();
    const quiet = probe('GET', '/health', undefined, PROBE_MS);
    await new Promise((r) => setTimeout(r, 2000));
    const idle = quantiles(await quiet.stop());
    const rows: Record<string, string | number>[] = [
      { activation: 'none (2 s idle)', ...idle, requestMs: 0, ...serverSide(before, await scrapeMetrics()) },
    ];
    for (let k = 0; k < rounds; k++) {
      const id = ids[k % 2];
      before = await scrapeMetrics();
      const health = probe('GET', '/health', undefined, PROBE_MS);
      await new Promise((r) => setTimeout(r, 100));
      const t = performance.now();
      const res = await send('POST', `/models/${id}/activate`);
      const requestMs = performance.now() - t;
      await new Promise((r) => setTimeout(r, 100));
      if (res.status !== 200) throw new Error(`activate answered ${res.status}: ${res.body}`);
      rows.push({ activation: `${k + 1}: ${id}`, ...quantiles(await health.stop()), requestMs, ...serverSide(before, await scrapeMetrics()) });
    }
    // Start-up with an active ensemble: the time from the process start to its first answer.
    await stopServer(server);
    const restarted = performance.now();
    server = await startServer(dir);
    const restartSeconds = (performance.now() - restarted) / 1000;
    process.stdout.write(
      `\n/health every ${PROBE_MS} ms during POST /models/{id}/activate of an ML-1M ensemble (ms), and the server's event-loop delay and GCs:\n`,
    );
    printTable(rows);
    process.stdout.write(
      `\nstart-up to the first answer: ${startSeconds.toFixed(2)} s empty-or-as-found, ${restartSeconds.toFixed(2)} s with an active ensemble\n`,
    );
    writeResult('activation', { rows, startSeconds, restartSeconds, probeMs: PROBE_MS });
  } finally {
    await stopServer(server);
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    agent.destroy();
  }
}

runBench(main);
