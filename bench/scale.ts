/**
 * Growth benchmark: a seeded synthetic 20M-rating set (162K users, 62K items) imported through
 * the command line and through the service, then a training job on it (maxEpochs 2), with the
 * request thread's responsiveness probed throughout; then the same probe on MovieLens-1M with
 * an atomic import and with four writers.
 *
 *   npm run bench:scale -- [--ratings 20000000] [--work DIR] [--data PATH] [--skip-cli] [--skip-ml]
 *                          [--skip-synthetic] [--ml-repeats 5] [--job-model nnmf] [--server-flags="--cpu-prof ..."]
 *
 * --ratings scales users and items with it (2,000,000 gives 16,200 users and 6,200 items), for
 * quick runs while developing. The generated file is kept under --work (default the OS temp
 * folder) and reused by later runs. --skip-synthetic runs only the MovieLens-1M phases, each
 * repeated --ml-repeats times (samples pooled). --server-flags adds node flags to the server
 * processes (space separated, given with =), e.g. --server-flags="--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from '../src/cli/args';
import { movielensRoot } from './movielens';
import { prepareLoad } from './load-client';
import { printTable, runBench, writeResult } from './report';
import {
  agent,
  jobEnd,
  json,
  peakRss,
  pooled,
  procStatus,
  probed,
  quantiles,
  requestThread,
  scrapeMetrics,
  send,
  servicePort,
  serverSide,
  startServer,
  stopServer,
  useServerFlags,
  warmUp,
} from './service-probe';
import { FULL_SHAPE, writeSyntheticRatings, type SyntheticShape } from './synthetic-ratings';

/** Gives the service a model so that /predict is answered by it: a small synthetic set under IDs of its own, trained for two epochs. */
async function seedModel(): Promise<string> {
  let csv = 'userId,itemId,rating\n';
  for (let u = 0; u < 500; u++) for (let k = 0; k < 20; k++) csv += `seed-u${u},seed-i${(u * 7 + k * 13) % 300},${1 + ((u + k) % 5)}\n`;
  const imported = await send('POST', '/ratings/import?format=csv', csv, 'text/csv');
  if (imported.status !== 200) throw new Error(`seed import failed: ${imported.body}`);
  const job = await json('POST', '/jobs', { type: 'train', params: { maxEpochs: 2 } });
  for (;;) {
    const j = await json('GET', `/jobs/${job.id}`);
    if (j.status === 'succeeded') break;
    if (['failed', 'cancelled'].includes(j.status)) throw new Error(`seed training ${j.status}: ${j.error}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  return JSON.stringify({ pairs: Array.from({ length: 10 }, (_, k) => ({ userId: `seed-u${k * 37}`, itemId: `seed-i${k * 29}` })) });
}

async function statsLatency(n: number) {
  const before = await scrapeMetrics();
  const ms: number[] = [];
  for (let k = 0; k < n; k++) {
    const t = performance.now();
    await send('GET', '/stats');
    ms.push(performance.now() - t);
  }
  const after = await scrapeMetrics();
  requestThread.push({ phase: `GET /stats x${n}`, ...serverSide(before, after) });
  // The server's own timing of the same requests (its latency histogram, bucket bounds in seconds).
  const answered = (le: string) =>
    (after.get(`http_request_duration_seconds_bucket{le="${le}",method="GET",route="/stats",status_code="200"}`) ?? 0) -
    (before.get(`http_request_duration_seconds_bucket{le="${le}",method="GET",route="/stats",status_code="200"}`) ?? 0);
  return { ...quantiles(ms), serverWithin1ms: answered('0.001'), serverWithin5ms: answered('0.005') };
}

function cliImport(file: string, dataDir: string): Promise<{ seconds: number; peakMb: number; line: string }> {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, '..', 'src', 'cli', 'import.js'), '--file', file, '--format', 'movielens-1m', '--data-dir', dataDir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const started = performance.now();
  const done = new Promise<void>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`import exited with ${code}`)))),
  );
  return peakRss(child.pid!, done).then(({ peakMb }) => ({ seconds: (performance.now() - started) / 1000, peakMb, line: out.trim() }));
}

/**
 * The training job on the imported ratings (maxEpochs 2), probed from POST /jobs to its end
 * (snapshot, training, checkpoint, gate and activation), with the server's peak RSS during it
 * and its idle RSS after. First the default job is asked for, to record whether MAX_TRAIN_MEMORY
 * admits it at this size (when it does, it is cancelled at once and `model` runs instead).
 */
async function trainingRun(
  server: ChildProcess,
  model: string,
  predictBody: string,
  results: Record<string, unknown>,
  probes: Record<string, unknown>[],
) {
  const asked = await send('POST', '/jobs', JSON.stringify({ type: 'train', params: { maxEpochs: 2 } }));
  const defaultJob: Record<string, unknown> = { status: asked.status };
  if (asked.status === 202) {
    const id = (JSON.parse(asked.body) as { id: string }).id;
    await send('POST', `/jobs/${id}/cancel`);
    await jobEnd(id);
  } else {
    defaultJob.refused = (JSON.parse(asked.body) as { message: string }).message;
  }
  const before = procStatus(server.pid!, 'VmRSS');
  process.stdout.write(`training ${model} (maxEpochs 2) on the imported ratings, probing /health and /predict...\n`);
  const run = await peakRss(
    server.pid!,
    probed(`training job (${model}, 2 epochs)`, predictBody, async () => {
      const job = await json('POST', '/jobs', { type: 'train', model, params: { maxEpochs: 2 } });
      if (!job.id) throw new Error(`job refused: ${JSON.stringify(job)}`);
      return jobEnd(job.id);
    }),
  );
  probes.push(...run.result.rows);
  const job = run.result.result;
  if (job.status !== 'succeeded') throw new Error(`training job ${job.status}: ${job.error}`);
  const peakRssMb = Math.max(run.peakMb, procStatus(server.pid!, 'VmHWM'));
  let activatedByApi: number | null = null;
  if (!job.decision.activated) {
    // The gate kept the older model: activation through the API (the checkpoint read, verified
    // and loaded on the request thread) is probed instead.
    const act = await probed('activation through POST /models/{id}/activate', predictBody, () => send('POST', `/models/${job.modelId}/activate`));
    probes.push(...act.rows);
    activatedByApi = act.seconds;
  }
  await new Promise((r) => setTimeout(r, 10_000));
  results.training = {
    defaultJob,
    model,
    seconds: run.result.seconds,
    epochs: job.progress.history.map((h: { member: string; epoch: number; seconds: number; validationRmse: number }) => ({
      member: h.member,
      epoch: h.epoch,
      seconds: h.seconds,
      validationRmse: h.validationRmse,
    })),
    decision: job.decision,
    activatedByApiSeconds: activatedByApi,
    evaluationRmse: job.report?.blend?.rmse ?? null,
    rssBeforeMb: before,
    peakRssMb,
    idleRssAfterMb: procStatus(server.pid!, 'VmRSS'),
  };
}

async function syntheticRuns(
  shape: SyntheticShape,
  work: string,
  skipCli: boolean,
  jobModel: string,
  results: Record<string, unknown>,
  probes: Record<string, unknown>[],
) {
  process.stdout.write(`generating ${shape.ratings} ratings (${shape.users} users, ${shape.items} items)...\n`);
  const t = performance.now();
  const file = writeSyntheticRatings(work, shape);
  results.generated = { file, bytes: fs.statSync(file).size, seconds: (performance.now() - t) / 1000 };

  if (!skipCli) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-bench-scale-cli-'));
    try {
      process.stdout.write('importing with the command line...\n');
      const cli = await cliImport(file, dir);
      results.cliImport = { ...cli, rowsPerSecond: Math.round(shape.ratings / cli.seconds) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-bench-scale-http-'));
  const server = await startServer(dir);
  try {
    const predictBody = await seedModel();
    results.firstAnswersMs = await warmUp(predictBody);
    const before = procStatus(server.pid!, 'VmRSS');
    process.stdout.write('importing through the service (non-atomic), probing /health and /predict...\n');
    const upload = await prepareLoad({ kind: 'import', port: servicePort(), file, format: 'movielens-1m', atomic: false });
    const run = await peakRss(server.pid!, probed(`import ${shape.ratings}`, predictBody, upload.run));
    probes.push(...run.result.rows);
    const summary = run.result.result;
    await new Promise((r) => setTimeout(r, 5000));
    results.httpImport = {
      inserted: summary.inserted,
      updated: summary.updated,
      rejected: summary.rejected,
      seconds: run.result.seconds,
      rowsPerSecond: Math.round((summary.inserted + summary.updated) / run.result.seconds),
      rssBeforeMb: before,
      peakRssMb: Math.max(run.peakMb, procStatus(server.pid!, 'VmHWM')),
      idleRssAfterMb: procStatus(server.pid!, 'VmRSS'),
    };
    results.stats = { after: await json('GET', '/stats'), latencyMs: await statsLatency(200) };
    await trainingRun(server, jobModel, predictBody, results, probes);
  } finally {
    await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * MovieLens-1M through an atomic import, then through 4 writers posting 1,000-row batches, both
 * probed. Each phase lasts a few seconds (some 60 probe samples, where p99 would be the maximum),
 * so the pair runs `repeats` times, each time in a fresh data folder with a fresh server (the
 * same state as the first run: a seed model, then an empty store for the import), and each
 * phase's samples are pooled.
 */
async function movielensRuns(root: string, repeats: number, results: Record<string, unknown>, probes: Record<string, unknown>[]) {
  const file = ['ratings.dat', 'ratings_no_timestamps.dat'].map((f) => path.join(root, 'ml-1m', f)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`no MovieLens-1M ratings under ${root}`);
  const rows = fs
    .readFileSync(file, 'latin1')
    .split('\n')
    .filter((l) => l.trim()).length;
  const atomicRuns: Awaited<ReturnType<typeof probed>>[] = [];
  const writerRuns: Awaited<ReturnType<typeof probed>>[] = [];
  const firstAnswers: Awaited<ReturnType<typeof warmUp>>[] = [];
  for (let run = 1; run <= repeats; run++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-bench-scale-ml-'));
    const server = await startServer(dir);
    try {
      const predictBody = await seedModel();
      firstAnswers.push(await warmUp(predictBody));
      process.stdout.write(`MovieLens-1M, run ${run} of ${repeats}: atomic import, probing...\n`);
      const upload = await prepareLoad({ kind: 'import', port: servicePort(), file, format: 'movielens-1m', atomic: true });
      const atomic = await probed(`ML-1M atomic import, run ${run}`, predictBody, upload.run);
      if (atomic.result.inserted !== rows) throw new Error(`atomic import stored ${atomic.result.inserted} of ${rows} rows`);
      atomicRuns.push(atomic);

      // Four writers post the same ratings under other user IDs, 1,000 rows per request.
      process.stdout.write(`MovieLens-1M, run ${run} of ${repeats}: 4 writers posting 1,000-row batches, probing...\n`);
      const writers = await prepareLoad({ kind: 'writers', port: servicePort(), file, writers: 4, prefix: 'w' });
      writerRuns.push(await probed(`ML-1M 4 writers, run ${run}`, predictBody, writers.run));
    } finally {
      await stopServer(server);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const atomic = pooled('ML-1M atomic import', atomicRuns);
  const writers = pooled('ML-1M 4 writers x 1,000 rows', writerRuns);
  probes.push(...atomic.rows, ...writers.rows);
  results.ml1mFirstAnswersMs = firstAnswers;
  results.ml1mAtomic = { rows, runs: repeats, seconds: atomic.seconds, slowProbes: atomic.slow };
  results.ml1mWriters = {
    requests: (writerRuns[0].result as { requests: number }).requests,
    runs: repeats,
    seconds: writers.seconds,
    rowsPerSecond: writers.seconds.map((s) => Math.round(rows / s)),
    slowProbes: writers.slow,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const ratings = Number(args.ratings ?? FULL_SHAPE.ratings);
  const scale = ratings / FULL_SHAPE.ratings;
  const shape: SyntheticShape = {
    ratings,
    users: Math.max(100, Math.round(FULL_SHAPE.users * scale)),
    items: Math.max(50, Math.round(FULL_SHAPE.items * scale)),
    seed: Number(args.seed ?? FULL_SHAPE.seed),
  };
  const work = typeof args.work === 'string' ? args.work : path.join(os.tmpdir(), 'reco-bench-scale');
  const results: Record<string, unknown> = { shape, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model } };
  const probes: Record<string, unknown>[] = [];
  if (typeof args['server-flags'] === 'string') useServerFlags(args['server-flags'].split(' ').filter(Boolean));
  if (args['skip-synthetic'] !== true)
    await syntheticRuns(shape, work, args['skip-cli'] === true, typeof args['job-model'] === 'string' ? args['job-model'] : 'nnmf', results, probes);
  const root = args['skip-ml'] === true ? null : movielensRoot(typeof args.data === 'string' ? args.data : undefined);
  if (root) await movielensRuns(root, Math.max(1, Number(args['ml-repeats'] ?? 5)), results, probes);
  else if (args['skip-ml'] !== true) process.stdout.write('MovieLens not found (--data PATH): the MovieLens-1M probes are skipped\n');
  results.probes = probes;
  results.requestThread = requestThread;
  process.stdout.write('\nresponsiveness (ms, a request every 50 ms to each probe):\n');
  printTable(probes as Record<string, string | number>[]);
  process.stdout.write('\nthe request thread meanwhile (event-loop delay in ms beyond the 10 ms monitor, garbage collections, its CPU seconds):\n');
  printTable(requestThread);
  process.stdout.write(`\n${JSON.stringify({ ...results, probes: undefined, requestThread: undefined }, null, 2)}\n`);
  writeResult(args['skip-synthetic'] === true ? 'scale-ml1m' : `scale-${ratings}`, results);
  agent.destroy();
}

runBench(main);
