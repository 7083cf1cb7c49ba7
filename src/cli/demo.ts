/**
 * `npm run demo`: a first run that needs no download. Fills an empty data folder with a small
 * synthetic rating set whose users and items have latent tastes (so a trained model beats the
 * baselines visibly), names the items, starts the service, trains a model through its own API
 * and prints the dashboard's address; the service keeps running until Ctrl-C.
 *
 *   npm run demo [-- --ratings 60000 --users 1000 --items 700 --model ensemble --seed 1]
 *
 * DATA_DIR defaults to ./demo-data here (not ./data), so a real data folder is never filled
 * with made-up ratings by accident. A folder that already holds ratings is served as it is.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { writeSyntheticRatings } from '../../bench/synthetic-ratings';
import { buildApp } from '../app';
import { ConfigError, loadConfig } from '../config';
import { Rng } from '../engine/rng';
import { parseArgs } from './args';

const ADJECTIVES = [
  'Silent',
  'Golden',
  'Broken',
  'Hidden',
  'Crimson',
  'Last',
  'Distant',
  'Electric',
  'Quiet',
  'Wild',
  'Frozen',
  'Secret',
  'Lucky',
  'Midnight',
  'Paper',
  'Northern',
];
const NOUNS = [
  'Harbor',
  'Garden',
  'Signal',
  'Orchard',
  'Machine',
  'River',
  'Letter',
  'Empire',
  'Lantern',
  'Voyage',
  'Mirror',
  'Circus',
  'Station',
  'Forest',
  'Island',
  'Summer',
];
const GENRES = ['drama', 'comedy', 'thriller', 'documentary', 'science fiction', 'romance', 'animation', 'western'];

interface DemoOptions {
  ratings: number;
  users: number;
  items: number;
  seed: number;
  model: string;
}

function options(argv: string[]): DemoOptions {
  const a = parseArgs(argv);
  const n = (name: string, fallback: number) => {
    const v = a[name];
    if (v === undefined) return fallback;
    const x = Number(v);
    if (!Number.isInteger(x) || x <= 0) throw new Error(`--${name} takes a positive integer`);
    return x;
  };
  const model = a.model === undefined ? 'ensemble' : String(a.model);
  return { ratings: n('ratings', 60_000), users: n('users', 1_000), items: n('items', 700), seed: n('seed', 1), model };
}

async function json(app: FastifyInstance, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await app.inject({
    method,
    url,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.statusCode >= 400) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json<Record<string, unknown>>();
}

/** Imports the synthetic ratings through the service's own import endpoint, and gives every item a title and attributes. */
async function fill(app: FastifyInstance, opts: DemoOptions, auth: Record<string, string>): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-demo-'));
  try {
    const file = writeSyntheticRatings(tmp, { ratings: opts.ratings, users: opts.users, items: opts.items, seed: opts.seed });
    const res = await app.inject({
      method: 'POST',
      url: '/ratings/import?format=movielens-1m',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      payload: fs.createReadStream(file),
    });
    if (res.statusCode !== 200) throw new Error(`import failed: ${res.statusCode} ${res.body}`);
    const r = res.json<{ inserted: number; rejected: number }>();
    console.log(`imported ${r.inserted.toLocaleString('en')} synthetic ratings (${opts.users} users, ${opts.items} items)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const rng = new Rng(opts.seed + 1);
  const pick = <T>(xs: T[]) => xs[Math.floor(rng.next() * xs.length)];
  for (let i = 1; i <= opts.items; i++) {
    const title = `The ${pick(ADJECTIVES)} ${pick(NOUNS)}`;
    await json(
      app,
      'PUT',
      `/items/${i}`,
      { title, attributes: { genre: pick(GENRES), year: 1950 + Math.floor(rng.next() * 75), synthetic: true } },
      auth,
    );
  }
}

async function train(app: FastifyInstance, model: string, auth: Record<string, string>): Promise<void> {
  const { id } = (await json(app, 'POST', '/jobs', { type: 'train', model }, auth)) as { id: string };
  console.log(`training job ${id} (${model}) started: watch it live on the dashboard's Jobs page`);
  let lastPhase = '';
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const job = (await json(app, 'GET', `/jobs/${id}`, undefined, auth)) as {
      status: string;
      error: string | null;
      progress: { phase: string; epoch: number; validationRmse: number | null } | null;
      report: { blend: { rmse: number }; baselines: { bias: { rmse: number }; globalMean: { rmse: number } } } | null;
    };
    const p = job.progress;
    if (p && p.phase !== lastPhase) {
      lastPhase = p.phase;
      console.log(`  ${p.phase}`);
    }
    if (job.status === 'succeeded') {
      const r = job.report;
      if (r)
        console.log(
          `model RMSE ${r.blend.rmse.toFixed(4)} on held-out ratings; baselines: user + item bias ${r.baselines.bias.rmse.toFixed(4)}, global mean ${r.baselines.globalMean.rmse.toFixed(4)}`,
        );
      return;
    }
    if (job.status === 'failed' || job.status === 'cancelled') throw new Error(`training job ${job.status}: ${job.error}`);
  }
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const config = loadConfig({ DATA_DIR: path.resolve('demo-data'), LOG_LEVEL: 'warn', ...process.env });
  fs.mkdirSync(config.dataDir, { recursive: true });
  const app = await buildApp({ config });
  const shutdown = () => {
    void app.close().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  await app.listen({ port: config.port, host: config.host });
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host}:${config.port}/dashboard/`;
  const auth: Record<string, string> = config.apiKeys.length ? { authorization: `Bearer ${config.apiKeys[0]}` } : {};
  console.log(`data folder: ${config.dataDir}`);
  console.log(`dashboard: ${url}${config.apiKeys.length ? ' (it asks for one of the API_KEYS)' : ''}`);

  const stats = (await json(app, 'GET', '/stats', undefined, auth)) as { ratings: number };
  if (stats.ratings === 0) await fill(app, opts, auth);
  else console.log(`the data folder already holds ${stats.ratings.toLocaleString('en')} ratings: serving them as they are`);
  const active = (await json(app, 'GET', '/stats/ratings', undefined, auth)) as { activeModel: unknown };
  if (active.activeModel === null) await train(app, opts.model, auth);
  console.log(`\nready: open ${url}  (a user to explore: ${url}#/users/1)`);
  const rel = path.relative(process.cwd(), config.dataDir);
  console.log(`Ctrl-C stops the service; \`DATA_DIR=${rel.startsWith('..') ? config.dataDir : rel} npm start\` serves this folder again.`);
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
