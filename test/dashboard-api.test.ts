import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { listMigrations, migrate } from '../src/db/migrate';
import { DB_FILE } from '../src/db/open';
import { Rng } from '../src/engine/rng';
import { ratingBin } from '../src/writer/store';
import { closeAfterwards, postJson, tempDataDir, testApp } from './helpers/app';
import { FAST_TRAINING, importSynthetic, trainModel } from './helpers/training';

/** The histogram counted from the ratings themselves, as migration 006 fills it. */
function scannedHistogram(app: FastifyInstance): { rating: number; count: number }[] {
  return app.db.prepare('SELECT CAST(round(rating * 2) AS INTEGER) / 2.0 AS rating, COUNT(*) AS count FROM ratings GROUP BY 1 ORDER BY 1').all() as {
    rating: number;
    count: number;
  }[];
}

const csvOf = (rows: [string, string, number][]) => 'userId,itemId,rating\n' + rows.map((r) => r.join(',')).join('\n') + '\n';

describe('rating histogram kept by the writer (migration 006)', () => {
  test("the writer's bin is SQLite's round(rating × 2), halves away from zero, negative ratings included", () => {
    const db = new BetterSqlite3(':memory:');
    const sqlBin = db.prepare('SELECT CAST(round(? * 2) AS INTEGER)').pluck();
    const rng = new Rng(3);
    const values = [0, 0.25, 0.75, 1.25, 2.749999, 2.75, -0.25, -0.75, -1.25, 3.3, 4.7, 4.999999999, 1e-9, -1e-9];
    for (let k = 0; k < 2000; k++) values.push((rng.next() - 0.5) * 20, Math.round((rng.next() - 0.5) * 80) / 4);
    const differ = values.filter((v) => ratingBin(v) !== sqlBin.get(v));
    expect(differ).toEqual([]);
    db.close();
  });

  test('follows inserts, updates, fractional ratings, imports (atomic too) and deletions', async () => {
    const app = await testApp({ RATING_MIN: '0', RATING_MAX: '10' });
    const check = async () => {
      const got = (await app.inject({ url: '/stats/ratings' })).json();
      expect(got.histogram).toEqual(scannedHistogram(app));
      expect(got.ratings).toBe(got.histogram.reduce((s: number, b: { count: number }) => s + b.count, 0));
      expect(got.binWidth).toBe(0.5);
    };
    await check();
    expect(
      (
        await postJson(app, '/ratings', [
          { userId: 'a', itemId: 'x', rating: 3.3 },
          { userId: 'a', itemId: 'y', rating: 3.7 },
          { userId: 'b', itemId: 'x', rating: 0.25 },
          { userId: 'b', itemId: 'y', rating: 10 },
        ])
      ).statusCode,
    ).toBe(200);
    await check();
    // An update moves a rating from one bin to another; a repeated pair in one batch keeps the last.
    await postJson(app, '/ratings', [
      { userId: 'a', itemId: 'x', rating: 8 },
      { userId: 'c', itemId: 'z', rating: 1 },
      { userId: 'c', itemId: 'z', rating: 2 },
    ]);
    await check();
    const rows: [string, string, number][] = [];
    for (let k = 0; k < 300; k++) rows.push([`u${k % 37}`, `i${k % 23}`, (k % 21) / 2]);
    const bulk = await app.inject({
      method: 'POST',
      url: '/ratings/import?format=csv',
      headers: { 'content-type': 'text/csv' },
      payload: csvOf(rows) + 'bad,row\n',
    });
    expect(bulk.json()).toMatchObject({ rejected: 1 });
    await check();
    const atomic = await app.inject({
      method: 'POST',
      url: '/ratings/import?format=csv&atomic=true',
      headers: { 'content-type': 'text/csv' },
      payload: csvOf(rows.map(([u, i, r]) => [`v${u}`, i, 10 - r])),
    });
    expect(atomic.statusCode).toBe(200);
    await check();
    // A rejected atomic import changes nothing.
    const rejected = await app.inject({
      method: 'POST',
      url: '/ratings/import?format=csv&atomic=true',
      headers: { 'content-type': 'text/csv' },
      payload: csvOf([['w', 'x', 4]]) + 'w,y,99\n',
    });
    expect(rejected.statusCode).toBe(400);
    await check();
    expect((await app.inject({ method: 'DELETE', url: '/users/a/ratings/y' })).statusCode).toBe(204);
    expect((await app.inject({ method: 'DELETE', url: '/users/u3' })).statusCode).toBe(204);
    await check();
    // Every bin emptied: none listed.
    for (const u of ['a', 'b', 'c', ...Array.from({ length: 37 }, (_, k) => `u${k}`), ...Array.from({ length: 37 }, (_, k) => `vu${k}`)]) {
      await app.inject({ method: 'DELETE', url: `/users/${u}` });
    }
    expect((await app.inject({ url: '/stats/ratings' })).json()).toMatchObject({ ratings: 0, histogram: [] });
  });

  test('migration 006 fills the histogram from the ratings already stored', () => {
    const dir = tempDataDir();
    const migDir = path.join(dir, 'migrations');
    fs.mkdirSync(migDir);
    for (const m of listMigrations().filter((x) => x.version < 6)) fs.writeFileSync(path.join(migDir, m.name), m.sql);
    const db = new BetterSqlite3(path.join(dir, DB_FILE));
    migrate(db, migDir);
    db.exec(`INSERT INTO users (id, ext_id, created_at) VALUES (1, 'a', 0), (2, 'b', 0);
      INSERT INTO items (id, ext_id, created_at) VALUES (1, 'x', 0), (2, 'y', 0);
      INSERT INTO ratings (user_id, item_id, rating) VALUES (1, 1, 4), (2, 1, 4.2), (1, 2, 1.25), (2, 2, 5);`);
    expect(migrate(db)).toContain(6);
    expect(db.prepare('SELECT bin, count FROM rating_histogram ORDER BY bin').raw().all()).toEqual([
      [3, 1],
      [8, 2],
      [10, 1],
    ]);
    db.close();
  });
});

describe('GET /stats/ratings: the data since the active model', () => {
  test('null before a model; then the snapshot against the store as it changes', async () => {
    const app = await testApp();
    expect((await app.inject({ url: '/stats/ratings' })).json().activeModel).toBeNull();
    await importSynthetic(app);
    const job = await trainModel(app, FAST_TRAINING);
    expect(job.status).toBe('succeeded');
    const stored = (await app.inject({ url: '/stats' })).json().ratings;
    const after = (await app.inject({ url: '/stats/ratings' })).json().activeModel;
    expect(after).toMatchObject({ modelId: job.modelId, ratingsAtTraining: stored, ratingsAdded: 0, writesSince: 0 });
    await postJson(app, '/ratings', [
      { userId: 'new1', itemId: 'i1', rating: 4 },
      { userId: 'new2', itemId: 'i1', rating: 2 },
    ]);
    await app.inject({ method: 'DELETE', url: '/users/u0' });
    const deletedU0 = (await app.inject({ url: '/stats' })).json().ratings - stored - 2;
    expect(deletedU0).toBeLessThan(0);
    expect((await app.inject({ url: '/stats/ratings' })).json().activeModel).toMatchObject({ ratingsAdded: 2 + deletedU0, writesSince: 2 });
  });
});

describe('the dashboard files', () => {
  let built: string;
  beforeAll(() => {
    built = tempDataDir();
    execFileSync(process.execPath, [path.join(__dirname, '..', 'src', 'dashboard', 'build.mjs'), built]);
  });

  async function appWith(env: Record<string, string>, dashboardDir: string): Promise<FastifyInstance> {
    const config = loadConfig({ DATA_DIR: tempDataDir(), LOG_LEVEL: 'silent', ...env });
    const app = closeAfterwards(await buildApp({ config, logger: false, dashboardDir }));
    await app.ready();
    return app;
  }

  test('are served without a key while the API needs one; the page is told to ask for it', async () => {
    const key = 'dashboard-test-key-0123456789';
    const app = await appWith({ API_KEYS: key, RATING_MIN: '0', RATING_MAX: '10', MAX_BATCH: '500' }, built);
    const redirect = await app.inject({ url: '/dashboard' });
    expect(redirect.statusCode).toBe(301);
    expect(redirect.headers.location).toBe('/dashboard/');
    const page = await app.inject({ url: '/dashboard/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const script = /src="(app-[A-Z0-9]{8}\.js)"/.exec(page.body)?.[1];
    const style = /href="(app-[A-Z0-9]{8}\.css)"/.exec(page.body)?.[1];
    expect(script && style).toBeTruthy();
    const js = await app.inject({ url: `/dashboard/${script}` });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toContain('immutable');
    expect((await app.inject({ url: `/dashboard/${style}` })).headers['content-type']).toMatch(/^text\/css/);
    expect((await app.inject({ url: '/dashboard/config.json' })).json()).toEqual({
      apiKeyRequired: true,
      ratingMin: 0,
      ratingMax: 10,
      maxBatch: 500,
    });
    // The data stays behind the key.
    expect((await app.inject({ url: '/stats/ratings' })).json().code).toBe('RECO_ERR_UNAUTHORIZED');
    expect((await app.inject({ url: '/stats/ratings', headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(200);
    // Nothing outside the built folder is reachable.
    expect((await app.inject({ url: '/dashboard/..%2f..%2fpackage.json' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/dashboard/nothing.js' })).json().code).toBe('RECO_ERR_NOT_FOUND');
  });

  test('the page knows when the API is open', async () => {
    const app = await appWith({}, built);
    expect((await app.inject({ url: '/dashboard/config.json' })).json()).toMatchObject({ apiKeyRequired: false, ratingMin: 1, ratingMax: 5 });
  });

  test('not built: /dashboard answers 404 saying how to build it, and the API is unaffected', async () => {
    const app = await appWith({}, path.join(tempDataDir(), 'absent'));
    const res = await app.inject({ url: '/dashboard' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'RECO_ERR_NOT_FOUND', message: expect.stringContaining('npm run build') });
    expect((await app.inject({ url: '/stats' })).statusCode).toBe(200);
  });
});
