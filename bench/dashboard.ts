/**
 * Dashboard benchmark on MovieLens-1M: the service (a child process, as `npm start` runs it) on
 * a fresh data folder with ML-1M imported through the API and titled from movies.dat, and a
 * quick MF model trained; then
 *  - the API calls each page makes, timed over HTTP (the overview's must stay within 50 ms);
 *  - each page opened in headless Chromium, fresh each time: first contentful paint (target
 *    300 ms) and the time until its data is on screen.
 *
 *   npm run bench:dashboard -- [--data PATH] [--runs 7] [--calls 100]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from '../src/cli/args';
import { CHROMIUM, launchChromium } from './chromium';
import { movielensRoot } from './movielens';
import { startService, stopService } from './service';
import { machine, printTable, runBench, writeResult } from './report';

const PORT = 18094;
const BASE = `http://127.0.0.1:${PORT}`;

async function call(method: string, url: string, body?: unknown, raw?: fs.ReadStream): Promise<any> {
  const init: RequestInit & { duplex?: 'half' } = { method };
  if (raw) {
    init.body = Readable.toWeb(raw) as RequestInit['body'];
    init.headers = { 'content-type': 'application/octet-stream' };
    init.duplex = 'half';
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(BASE + url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

async function fill(root: string): Promise<void> {
  const dir = path.join(root, 'ml-1m');
  const file = ['ratings.dat', 'ratings_no_timestamps.dat'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`no ratings.dat in ${dir}`);
  let t = performance.now();
  const imported = await call('POST', '/ratings/import?format=movielens-1m', undefined, fs.createReadStream(file));
  process.stdout.write(`imported ${imported.inserted} ratings in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  const movies = path.join(dir, 'movies.dat');
  if (fs.existsSync(movies)) {
    t = performance.now();
    const lines = fs.readFileSync(movies, 'latin1').split('\n').filter(Boolean);
    for (let k = 0; k < lines.length; k += 32) {
      await Promise.all(
        lines.slice(k, k + 32).map((line) => {
          const [id, title, genres] = line.split('::');
          return call('PUT', `/items/${id}`, { title, attributes: { genres: (genres ?? '').trim().split('|') } });
        }),
      );
    }
    process.stdout.write(`titled ${lines.length} movies in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  }
  t = performance.now();
  const { id } = await call('POST', '/jobs', { type: 'train', model: 'mf', params: { maxEpochs: 8 } });
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const job = await call('GET', `/jobs/${id}`);
    if (job.status === 'succeeded') break;
    if (job.status !== 'running' && job.status !== 'queued') throw new Error(`job ${job.status}: ${job.error}`);
  }
  process.stdout.write(`trained an MF model in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
}

/** Milliseconds per call, over `n` sequential calls after a warm-up. */
async function timeCalls(n: number, method: string, url: string, body?: unknown): Promise<{ p50: number; p95: number; max: number }> {
  for (let k = 0; k < 5; k++) await call(method, url, body);
  const ms: number[] = [];
  for (let k = 0; k < n; k++) {
    const t = performance.now();
    await call(method, url, body);
    ms.push(performance.now() - t);
  }
  return { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), max: Math.max(...ms) };
}

const PAGE_READY: [string, string, string][] = [
  ['overview', '', '[data-testid=histogram] canvas'],
  ['jobs', '#/jobs', '[data-testid=jobs-list] table'],
  ['models', '#/models', '[data-testid^=model-curve-] canvas'],
  ['user', '#/users/4169', '[data-testid=recommendations] table'],
  ['item', '#/items/2858', '[data-testid=similar] table'],
  ['data', '#/data', '[data-testid=import-file]'],
];

runBench(async () => {
  const args = parseArgs(process.argv.slice(2));
  const runs = Number(args.runs ?? 7);
  const calls = Number(args.calls ?? 100);
  const root = movielensRoot(typeof args.data === 'string' ? args.data : undefined);
  if (!root) throw new Error('MovieLens not found: pass --data PATH (the folder holding ml-1m/)');
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-bench-dashboard-'));
  const server = await startService(dataDir, PORT);
  try {
    await fill(root);
    const stats = await call('GET', '/stats');
    const active = (await call('GET', '/stats/ratings')).activeModel.modelId as string;
    // The heaviest user of ML-1M (2,314 ratings; the page reads the first 1,000 and predicts them).
    const user = '4169';
    const rated = (await call('GET', `/users/${user}/ratings?limit=1000`)).ratings.map((r: { itemId: string }) => ({
      userId: user,
      itemId: r.itemId,
    }));
    const api: [string, string, string, unknown?][] = [
      ['overview', 'GET', '/stats'],
      ['overview', 'GET', '/stats/ratings'],
      ['overview', 'GET', '/jobs?limit=5'],
      ['overview', 'GET', `/models/${active}`],
      ['jobs', 'GET', '/jobs?limit=50'],
      ['models', 'GET', '/models?limit=50'],
      ['user', 'GET', `/users/${user}/ratings?limit=1000`],
      ['user', 'GET', `/users/${user}/recommendations?n=20`],
      ['user', 'POST', '/predict', { pairs: rated }],
      ['item', 'GET', '/items/2858'],
      ['item', 'GET', '/items/2858/similar?n=10'],
    ];
    const apiRows = [];
    for (const [page, method, url, body] of api) {
      const t = await timeCalls(calls, method, url, body);
      apiRows.push({ page, call: `${method} ${url.replace(active, '{id}')}`, p50_ms: t.p50, p95_ms: t.p95, max_ms: t.max });
    }
    printTable(apiRows);

    const pageRows = [];
    for (const [name, hash, ready] of PAGE_READY) {
      const fcp: number[] = [];
      const loaded: number[] = [];
      for (let k = 0; k < runs; k++) {
        // A fresh profile each time: nothing cached, as on a first visit.
        const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-bench-chromium-'));
        const context = await launchChromium(profile);
        try {
          const page = context.pages()[0] ?? (await context.newPage());
          await page.goto(`${BASE}/dashboard/${hash}`);
          await page.locator(ready).first().waitFor({ timeout: 30_000 });
          const t = await page.evaluate<{ now: number; fcp?: number }>(
            `(() => ({ now: performance.now(), fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime }))()`,
          );
          if (t.fcp === undefined) throw new Error(`${name}: no first-contentful-paint entry`);
          fcp.push(t.fcp);
          loaded.push(t.now);
        } finally {
          await context.close();
          fs.rmSync(profile, { recursive: true, force: true });
        }
      }
      pageRows.push({
        page: name,
        runs,
        fcp_p50_ms: quantile(fcp, 0.5),
        fcp_max_ms: Math.max(...fcp),
        data_shown_p50_ms: quantile(loaded, 0.5),
        data_shown_max_ms: Math.max(...loaded),
      });
    }
    printTable(pageRows);
    const overviewWorst = Math.max(...apiRows.filter((r) => r.page === 'overview').map((r) => r.p95_ms));
    const fcpWorst = Math.max(...pageRows.map((r) => r.fcp_p50_ms));
    process.stdout.write(
      `overview API calls: worst p95 ${overviewWorst.toFixed(1)} ms (target 50); first contentful paint: worst median ${fcpWorst.toFixed(0)} ms (target 300)\n`,
    );
    writeResult('dashboard-ml-1m', {
      machine: machine(),
      stats,
      runs,
      calls,
      api: apiRows,
      pages: pageRows,
      targets: { overviewApiMs: 50, fcpMs: 300 },
    });
  } finally {
    await stopService(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
