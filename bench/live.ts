import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon ships no type declarations; require() with the signature used here types it
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>;
import { range, Rng } from '../src/engine/rng';
import { loadMovielens, movielensCommand } from './movielens';
import { machine, printTable, runBench, writeResult } from './report';
import { startService, stopService } from './service';

/**
 * Live personalisation and erasure through HTTP, against the service in its own process as
 * `npm start` runs it (SQLite in a temporary data folder): MovieLens-1M less `--users` users is
 * imported through the API and three models are trained through /jobs (two `--other-model`
 * ones, then the default ensemble, which is the one served). Then:
 * - the held-out users post their ratings through POST /ratings, so the model does not know
 *   them and folds them in; their recommendations (default n) are timed over keep-alive
 *   connections, first cold (each request a user not asked for before: the fold-in is computed)
 *   and then cached (users already folded in);
 * - `--deletes` users the three checkpoints hold are deleted with DELETE /users/{id}, timed one
 *   at a time, and /predict and the recommendations are checked to fall back for each.
 * `--model KIND` serves one kind instead of the default ensemble.
 */
const PORT = 18094;
const base = `http://127.0.0.1:${PORT}`;

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; average: number; max: number };
  non2xx: number;
  errors: number;
}

interface JobView {
  id: string;
  status: string;
  error?: string | null;
  modelId?: string | null;
  decision?: unknown;
}

async function call<T = any>(method: string, url: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function ok<T = any>(method: string, url: string, body?: unknown, contentType?: string): Promise<T> {
  const res = await call<T>(method, url, body, contentType);
  if (res.status >= 400) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function train(body: Record<string, unknown>): Promise<{ modelId: string; seconds: number; decision: unknown }> {
  const t0 = Date.now();
  const { id } = await ok<JobView>('POST', '/jobs', { type: 'train', ...body });
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const job = await ok<JobView>('GET', `/jobs/${id}`);
    if (job.status === 'succeeded') return { modelId: job.modelId!, seconds: (Date.now() - t0) / 1000, decision: job.decision };
    if (['failed', 'cancelled'].includes(job.status)) throw new Error(`job ${id} ${job.status}: ${job.error}`);
  }
}

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/**
 * GET the recommendations (default n) of the given users over `connections` keep-alive
 * connections: each user once, in order (`amount`), or for `duration` seconds a random one of
 * them per request. Counts the answers' `source`.
 */
async function recommendations(users: readonly string[], connections: number, mode: { once: true } | { duration: number }) {
  let next = 0;
  const sources: Record<string, number> = {};
  // Answers for a user answered before in this run: none expected when each user is asked once.
  const seen = new Set<string>();
  let repeats = 0;
  const res = await autocannon({
    url: `${base}/users/${encodeURIComponent(users[0])}/recommendations`,
    connections,
    ...('once' in mode ? { amount: users.length } : { duration: mode.duration }),
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => {
          // autocannon may prepare one request per connection that it never sends: past the end, any user.
          const id = 'once' in mode && next < users.length ? users[next++] : users[Math.floor(Math.random() * users.length)];
          return { ...req, path: `/users/${encodeURIComponent(id)}/recommendations` };
        },
        onResponse: (status: number, body: string) => {
          if (status !== 200) return void (sources[`HTTP ${status}`] = (sources[`HTTP ${status}`] ?? 0) + 1);
          const answer = JSON.parse(body) as { source: string; userId: string };
          sources[answer.source] = (sources[answer.source] ?? 0) + 1;
          if (seen.has(answer.userId)) repeats++;
          seen.add(answer.userId);
        },
      },
    ],
  });
  return {
    requests: res.requests.total,
    reqPerSec: res.requests.average,
    p50ms: res.latency.p50,
    p90ms: res.latency.p90,
    p99ms: res.latency.p99,
    maxMs: res.latency.max,
    errors: res.errors + res.non2xx,
    sources,
    ...('once' in mode ? { repeats } : {}),
  };
}

async function main(): Promise<void> {
  const { args, root } = movielensCommand('ml-1m');
  const heldOut = Number(args.users ?? 500);
  const connections = Number(args.connections ?? 10);
  const duration = Number(args.duration ?? 10);
  const deletes = Number(args.deletes ?? 10);
  const seed = Number(args.seed ?? 1);
  const otherModel = typeof args['other-model'] === 'string' ? args['other-model'] : 'mf';
  // The served model: the default (the ensemble) unless --model names one kind.
  const servedModel = typeof args.model === 'string' ? { model: args.model } : {};
  const threads = String(args.threads ?? 1);
  // Settings for every job (e.g. '{"maxEpochs":2}' for a quick run of the whole procedure).
  const params = typeof args.params === 'string' ? (JSON.parse(args.params) as Record<string, unknown>) : {};
  const ds = loadMovielens('ml-1m', root);
  const byUser = new Map<string, string[]>();
  for (let k = 0; k < ds.u.length; k++) {
    const id = ds.userIds[ds.u[k]];
    let lines = byUser.get(id);
    if (!lines) byUser.set(id, (lines = []));
    lines.push(`${id}::${ds.itemIds[ds.i[k]]}::${ds.r[k]}`);
  }
  const ids = [...byUser.keys()];
  const order = Array.from(new Rng(seed).shuffle(range(ids.length)), (k) => ids[k]);
  const newUsers = order.slice(0, heldOut);
  const known = order.slice(heldOut);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-bench-live-'));
  const service = await startService(dataDir, PORT, { ENGINE_THREADS: threads });
  try {
    let t0 = Date.now();
    const imported = await ok('POST', '/ratings/import?format=movielens-1m', known.map((id) => byUser.get(id)!.join('\n')).join('\n'), 'text/plain');
    process.stdout.write(
      `ml-1m: imported ${imported.inserted} ratings of ${known.length} users through HTTP in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${heldOut} users held out\n`,
    );

    // Three checkpoints: two cheaper ones, then the default model (or --model), which is served.
    const trained = [];
    for (const [k, body] of [
      { model: otherModel, params: { ...params, seed: 2 } },
      { model: otherModel, params: { ...params, seed: 3 } },
      { ...servedModel, params },
    ].entries()) {
      process.stdout.write(`training ${'model' in body ? body.model : 'the default model'}...\n`);
      trained.push({ model: 'model' in body ? body.model : 'default', ...(await train(body)) });
      process.stdout.write(`  model ${trained[k].modelId} in ${trained[k].seconds.toFixed(0)} s\n`);
    }
    const served = trained[2].modelId;
    if (!(await ok<{ active: boolean }>('GET', `/models/${served}`)).active) await ok('POST', `/models/${served}/activate`);
    const checkpoints = fs.readdirSync(path.join(dataDir, 'models')).filter((d) => !d.startsWith('.'));

    // The held-out users post their ratings (one request each): the served model has never seen them.
    t0 = Date.now();
    for (const id of newUsers) {
      const ratings = byUser.get(id)!.map((line) => {
        const [, itemId, rating] = line.split('::');
        return { userId: id, itemId, rating: Number(rating) };
      });
      await ok('POST', '/ratings', ratings);
    }
    process.stdout.write(`${heldOut} new users posted their ratings through POST /ratings in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const ratingCounts = newUsers.map((id) => byUser.get(id)!.length);

    // Recommendations. Half of the new users are asked for with one connection, the other half with
    // `connections`: each request is that user's first (cold: the fold-in is computed). Then every
    // new user again, at random (cached: the folded-in row is reused).
    const half = Math.floor(newUsers.length / 2);
    const rows = [
      { phase: 'cold (fold-in computed)', connections: 1, ...(await recommendations(newUsers.slice(0, half), 1, { once: true })) },
      { phase: 'cold (fold-in computed)', connections, ...(await recommendations(newUsers.slice(half), connections, { once: true })) },
      { phase: 'cached (folded in before)', connections: 1, ...(await recommendations(newUsers, 1, { duration })) },
      { phase: 'cached (folded in before)', connections, ...(await recommendations(newUsers, connections, { duration })) },
      { phase: 'trained users (for comparison)', connections, ...(await recommendations(known, connections, { duration })) },
    ];
    printTable(
      rows.map(({ sources, ...r }) => ({
        ...r,
        sources: Object.entries(sources)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      })),
    );

    // Erasure of users that all three checkpoints hold, one at a time; then of a few folded-in users.
    const probeItem = ds.itemIds[0];
    const erase = async (userId: string) => {
      const t = process.hrtime.bigint();
      const res = await call('DELETE', `/users/${encodeURIComponent(userId)}`);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (res.status !== 204) throw new Error(`DELETE /users/${userId}: ${res.status} ${JSON.stringify(res.body)}`);
      const pred = (await ok('POST', '/predict', { userId, itemId: probeItem })).predictions[0];
      const recs = await ok('GET', `/users/${encodeURIComponent(userId)}/recommendations`);
      const inCheckpoints = checkpoints.filter((d) =>
        (JSON.parse(fs.readFileSync(path.join(dataDir, 'models', d, 'meta.json'), 'utf8')) as { userIds: string[] }).userIds.includes(userId),
      ).length;
      return { userId, ms, predict: `${pred.source}/${pred.fallback}`, recommendations: `${recs.source}/${recs.fallback}`, inCheckpoints };
    };
    const erasedKnown = [];
    for (const id of known.slice(0, deletes)) erasedKnown.push(await erase(id));
    const erasedNew = [];
    for (const id of newUsers.slice(0, Math.min(5, deletes))) erasedNew.push(await erase(id));
    printTable([...erasedKnown.map((r) => ({ user: 'trained', ...r })), ...erasedNew.map((r) => ({ user: 'folded in', ...r }))]);
    const fellBack = [...erasedKnown, ...erasedNew].every(
      (r) => r.predict.startsWith('fallback/') && r.recommendations === 'fallback/popular' && r.inCheckpoints === 0,
    );

    const cold10 = rows[1];
    const cached10 = rows[3];
    const summary = {
      recommendationsColdP50ms: cold10.p50ms,
      recommendationsCachedP50ms: cached10.p50ms,
      deleteMedianMs: median(erasedKnown.map((r) => r.ms)),
      deleteMaxMs: Math.max(...erasedKnown.map((r) => r.ms)),
      deleteFoldedInMedianMs: median(erasedNew.map((r) => r.ms)),
      erasedUsersFallBack: fellBack,
    };
    process.stdout.write(
      `recommendations for folded-in users, ${connections} connections: p50 ${cold10.p50ms} ms cold, ${cached10.p50ms} ms cached (target <= 10)\n` +
        `DELETE /users/{id} with ${checkpoints.length} checkpoints stored: median ${summary.deleteMedianMs.toFixed(0)} ms, max ${summary.deleteMaxMs.toFixed(0)} ms over ${erasedKnown.length} users (target <= 1000); ` +
        `afterwards /predict and recommendations fall back and no checkpoint holds the ID: ${fellBack}\n`,
    );
    writeResult(`live-ml-1m${otherModel === 'mf' ? '' : `-${otherModel}`}`, {
      heldOutUsers: heldOut,
      heldOutRatings: { median: median(ratingCounts), min: Math.min(...ratingCounts), max: Math.max(...ratingCounts) },
      models: trained,
      servedModel: served,
      checkpoints: checkpoints.length,
      connections,
      duration,
      recommendations: rows,
      erasure: { trainedUsers: erasedKnown, foldedInUsers: erasedNew },
      summary,
      engineThreads: Number(threads),
      machine: machine(),
      date: new Date().toISOString(),
    });
  } finally {
    await stopService(service);
    // The data folder holds a copy of MovieLens, which must not be passed on: nothing of it is kept.
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

runBench(main);
