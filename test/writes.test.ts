import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/db/open';
import { ImportFailedError, ImportSession } from '../src/writer/import-session';
import { RatingsStore } from '../src/writer/store';
import { postJson, tempDataDir, testApp } from './helpers/app';

type Json = Record<string, any>;

/** The app listening on a real port, for behaviour that lives in the HTTP connection itself. */
async function listening(env: Record<string, string> = {}, dataDir?: string): Promise<{ app: FastifyInstance; base: string }> {
  const app = await testApp(env, dataDir);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

/** What the database holds, counted from the tables themselves. */
function scanned(app: FastifyInstance) {
  const n = (sql: string) => (app.db.prepare(sql).get() as { n: number }).n;
  return {
    users: n('SELECT COUNT(*) AS n FROM users'),
    items: n('SELECT COUNT(*) AS n FROM items'),
    ratings: n('SELECT COUNT(*) AS n FROM ratings'),
  };
}

function csv(rows: number, prefix = 'u'): string {
  let out = 'userId,itemId,rating\n';
  for (let k = 0; k < rows; k++) out += `${prefix}${k % 997},i${k % 389},${1 + (k % 5)}\n`;
  return out;
}

/** A raw HTTP exchange, for requests fetch refuses to send (huge headers) or sends too politely. */
function rawRequest(
  base: string,
  options: http.RequestOptions,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(base, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('counts kept by the writer', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => {
    await app.close();
  });

  const expectCountsToMatch = async () => {
    const stats = (await app.inject({ url: '/stats' })).json();
    expect(stats).toEqual(scanned(app));
    // Per-item count and mean, kept alongside, against the ratings themselves.
    const items = app.db
      .prepare(
        'SELECT i.ext_id AS id, COUNT(r.rating) AS n, AVG(r.rating) AS mean FROM items i LEFT JOIN ratings r ON r.item_id = i.id GROUP BY i.id',
      )
      .all() as { id: string; n: number; mean: number | null }[];
    for (const it of items) {
      const got = (await app.inject({ url: `/items/${encodeURIComponent(it.id)}` })).json();
      expect(got.ratingCount).toBe(it.n);
      if (it.mean === null) expect(got.ratingMean).toBeNull();
      else expect(got.ratingMean).toBeCloseTo(it.mean, 9);
    }
    return stats;
  };

  test('after inserts, updates, deletions, metadata and imports', async () => {
    expect(await expectCountsToMatch()).toEqual({ users: 0, items: 0, ratings: 0 });
    await postJson(app, '/ratings', [
      { userId: 'a', itemId: 'x', rating: 4 },
      { userId: 'a', itemId: 'y', rating: 2 },
      { userId: 'b', itemId: 'x', rating: 5 },
      { userId: 'a', itemId: 'x', rating: 1 },
    ]);
    expect(await expectCountsToMatch()).toEqual({ users: 2, items: 2, ratings: 3 });
    await postJson(app, '/ratings', { userId: 'b', itemId: 'x', rating: 3.5 });
    await app.inject({ method: 'PUT', url: '/items/z', payload: { title: 'new' } });
    await app.inject({ method: 'PUT', url: '/items/x', payload: { title: 'old' } });
    expect(await expectCountsToMatch()).toEqual({ users: 2, items: 3, ratings: 3 });
    const imported = await app.inject({
      method: 'POST',
      url: '/ratings/import?format=csv',
      headers: { 'content-type': 'text/csv' },
      payload: csv(3000) + 'c,z,9\nc,z,3\n',
    });
    expect(imported.json()).toMatchObject({ rejected: 1 });
    await expectCountsToMatch();
    const atomic = await app.inject({
      method: 'POST',
      url: '/ratings/import?format=csv&atomic=true',
      headers: { 'content-type': 'text/csv' },
      payload: csv(500, 'v'),
    });
    expect(atomic.statusCode).toBe(200);
    await expectCountsToMatch();
    expect((await app.inject({ method: 'DELETE', url: '/users/a/ratings/y' })).statusCode).toBe(204);
    expect((await app.inject({ method: 'DELETE', url: '/users/u5' })).statusCode).toBe(204);
    expect((await app.inject({ method: 'DELETE', url: '/users/a' })).statusCode).toBe(204);
    const after = await expectCountsToMatch();
    // 997 CSV users, 500 from the atomic import, a, b and c; minus u5 and a.
    expect(after.users).toBe(997 + 500 + 3 - 2);
  });
});

describe('writes off the request thread', () => {
  test('/health answers at once while a large atomic import is written', async () => {
    const { app, base } = await listening({ IMPORT_LIMIT: '64mb' });
    try {
      let body = 'userId,itemId,rating\n';
      for (let k = 0; k < 400_000; k++) body += `u${k >> 6},i${(k * 7919) % 5000},${1 + (k % 5)}\n`;
      const started = performance.now();
      let done = false;
      const imported = fetch(`${base}/ratings/import?format=csv&atomic=true`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body }).then(
        async (r) => {
          done = true;
          return { status: r.status, body: (await r.json()) as Json };
        },
      );
      const latencies: number[] = [];
      while (!done) {
        const t = performance.now();
        const r = await fetch(`${base}/health`);
        await r.text();
        if (!done) latencies.push(performance.now() - t);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const result = await imported;
      const duration = performance.now() - started;
      expect(result.status).toBe(200);
      expect(result.body.inserted).toBe(400_000);
      // Probes kept coming throughout, and none waited for more than a small part of the import
      // (before the writer thread, /health went unanswered for the whole atomic transaction).
      expect(latencies.length).toBeGreaterThan(10);
      expect(Math.max(...latencies)).toBeLessThan(duration / 10);
    } finally {
      await app.close();
    }
  });

  test('the writer thread drains writes already sent when the app closes', async () => {
    const dir = tempDataDir();
    const app = await testApp({}, dir);
    const writes = Array.from({ length: 20 }, (_, k) => postJson(app, '/ratings', { userId: `w${k}`, itemId: 'i', rating: 3 }));
    const closed = app.close();
    const answers = await Promise.all(writes);
    await closed;
    const again = await testApp({}, dir);
    const ok = answers.filter((a) => a.statusCode === 200).length;
    expect((await again.inject({ url: '/stats' })).json().ratings).toBe(ok);
    await again.close();
  });
});

describe('import limits and spool files', () => {
  test('an import over IMPORT_LIMIT answers 413 with the counts of exactly what was stored', async () => {
    const { app, base } = await listening({ IMPORT_LIMIT: '20kb' });
    try {
      const body = csv(5000);
      const res = await fetch(`${base}/ratings/import?format=csv`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body });
      expect(res.status).toBe(413);
      const json = (await res.json()) as Json;
      expect(json.code).toBe('RECO_ERR_BODY_TOO_LARGE');
      const stored = scanned(app).ratings;
      expect(stored).toBeGreaterThan(0);
      expect(json.details.inserted + json.details.updated).toBe(stored);
      // Whole lines only: the stored rows are the body's first rows, up to the limit.
      const fitting = body.slice(0, 20 * 1024);
      expect(stored).toBe(fitting.slice(0, fitting.lastIndexOf('\n')).split('\n').length - 1);
      const atomic = await fetch(`${base}/ratings/import?format=csv&atomic=true`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: csv(5000, 'z'),
      });
      expect(atomic.status).toBe(413);
      expect(((await atomic.json()) as Json).details).toEqual({ inserted: 0, updated: 0, rejected: 0 });
      expect(scanned(app).ratings).toBe(stored);
    } finally {
      await app.close();
    }
  });

  test('spool files left by a dead process are removed at start; a live one’s stay; none outlive an import', async () => {
    const dir = tempDataDir();
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp, { recursive: true });
    const dead = path.join(tmp, 'reco-import-999999999-abc.tsv');
    const mine = path.join(tmp, `reco-import-${process.pid}-def.tsv`);
    const live = path.join(tmp, `reco-import-${process.ppid}-ghi.tsv`);
    for (const f of [dead, mine, live]) fs.writeFileSync(f, 'u\ti\t3\t\n');
    const app = await testApp({}, dir);
    try {
      expect(fs.existsSync(dead)).toBe(false);
      expect(fs.existsSync(mine)).toBe(false);
      expect(fs.existsSync(live)).toBe(true);
      fs.rmSync(live);
      const ok = await app.inject({ method: 'POST', url: '/ratings/import?atomic=true', headers: { 'content-type': 'text/csv' }, payload: csv(100) });
      expect(ok.statusCode).toBe(200);
      const bad = await app.inject({
        method: 'POST',
        url: '/ratings/import?atomic=true',
        headers: { 'content-type': 'text/csv' },
        payload: csv(100) + 'x,y,nine\n',
      });
      expect(bad.statusCode).toBe(400);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('HTTP edges', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    ({ app, base } = await listening({ BODY_LIMIT: '64kb', BODY_TIMEOUT: '300ms' }));
  });
  afterAll(async () => {
    await app.close();
  });

  test('10 of 10 oversized fetch uploads receive the 413', async () => {
    const big = JSON.stringify([{ userId: 'u', itemId: 'i', rating: 3, pad: 'y'.repeat(8 * 1024 * 1024) }]);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        fetch(`${base}/ratings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as Json,
        })),
      ),
    );
    for (const r of results) {
      expect(r.status).toBe('fulfilled');
      if (r.status === 'fulfilled') {
        expect(r.value.status).toBe(413);
        expect(r.value.body.code).toBe('RECO_ERR_BODY_TOO_LARGE');
      }
    }
  });

  test('an oversized body sent in chunks without a length also gets its 413', async () => {
    const chunks = async function* () {
      for (let k = 0; k < 40; k++) yield new TextEncoder().encode('x'.repeat(16 * 1024));
    };
    const res = await fetch(`${base}/ratings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chunks(),
      duplex: 'half',
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as Json).code).toBe('RECO_ERR_BODY_TOO_LARGE');
  });

  test('lone surrogates in IDs are refused; paired ones are fine', async () => {
    // The JSON text as the client wrote it, escapes and all.
    const postText = (url: string, payload: string) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
    const lone = await postText('/ratings', '{"userId":"a\\ud800","itemId":"i","rating":3}');
    expect(lone.statusCode).toBe(400);
    expect(lone.json().code).toBe('RECO_ERR_INVALID_ID');
    const trailing = await postText('/predict', '{"userId":"a","itemId":"\\udc00x"}');
    expect(trailing.statusCode).toBe(400);
    expect(trailing.json().code).toBe('RECO_ERR_INVALID_ID');
    const paired = await postJson(app, '/ratings', { userId: 'a\ud83d\ude00', itemId: 'i', rating: 3 });
    expect(paired.statusCode).toBe(200);
    const back = await app.inject({ url: `/users/${encodeURIComponent('a\ud83d\ude00')}/ratings` });
    expect(back.json().ratings).toEqual([{ itemId: 'i', rating: 3, timestamp: null }]);
  });

  test("Fastify's and Node's own errors come in the standard shape with a request id", async () => {
    const shape = (r: { status: number; headers: http.IncomingHttpHeaders; body: string }, status: number, code: string) => {
      expect(r.status).toBe(status);
      const body = JSON.parse(r.body);
      expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
      expect(body.code).toBe(code);
      expect(body.statusCode).toBe(status);
      expect(r.headers['x-request-id']).toBeTruthy();
    };
    shape(await rawRequest(base, { path: `/items/${'x'.repeat(600)}` }), 414, 'RECO_ERR_URI_TOO_LONG');
    shape(await rawRequest(base, { path: '/items/%E0%A4%A' }), 400, 'RECO_ERR_BAD_URL');
    shape(await rawRequest(base, { path: '/health', headers: { 'x-big': 'h'.repeat(20 * 1024) } }), 431, 'RECO_ERR_HEADERS_TOO_LARGE');
  });

  test('a stalled body is answered 408 and closed; shutdown is not held by it', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${base}/ratings/import?format=csv`, { method: 'POST', headers: { 'content-type': 'text/csv' } }, (r) => {
        let text = '';
        r.on('data', (c) => (text += c));
        r.on('end', () => resolve({ status: r.statusCode!, body: text }));
      });
      req.on('error', reject);
      req.write('userId,itemId,rating\nslow,i,3\n');
      // ...and nothing more.
    });
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body).code).toBe('RECO_ERR_REQUEST_TIMEOUT');
    expect(JSON.parse(res.body).details).toEqual({ inserted: 1, updated: 0, rejected: 0 });
    // The whole lines that came before the stall were stored (non-atomic import).
    expect((await app.inject({ url: '/users/slow/ratings' })).json().total).toBe(1);
  });
});

describe('shutdown and aborted uploads', () => {
  test('uploads still arriving do not hold shutdown, and a spool file goes with them', async () => {
    const dir = tempDataDir();
    const bodyTimeoutMs = 60_000;
    const { app, base } = await listening({ BODY_TIMEOUT: `${bodyTimeoutMs}ms` }, dir);
    const req = http.request(`${base}/ratings/import?format=csv&atomic=true`, { method: 'POST', headers: { 'content-type': 'text/csv' } });
    req.on('error', () => undefined);
    req.write(csv(2000));
    // A JSON body that stops halfway, too.
    const json = http.request(`${base}/ratings`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '1000' } });
    json.on('error', () => undefined);
    json.write('[{"userId":"u","itemId":"i",');
    // Wait until the import has begun spooling.
    for (let k = 0; k < 100 && !fs.readdirSync(path.join(dir, 'tmp')).length; k++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const t = performance.now();
    await app.close();
    // Well within the time the body timeout would have allowed the client.
    expect(performance.now() - t).toBeLessThan(bodyTimeoutMs / 6);
    expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    req.destroy();
    json.destroy();
  });
});

test('a client that aborts its upload is logged at info, without an error or a stack', async () => {
  const lines: { level: number; msg: string; stack?: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  const app = await buildApp({ config: loadConfig({ DATA_DIR: tempDataDir(), LOG_LEVEL: 'info' }), logger: { level: 'info', stream } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const port = (app.server.address() as AddressInfo).port;
    const req = http.request({
      port,
      host: '127.0.0.1',
      path: '/ratings/import?format=csv',
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
    });
    req.on('error', () => undefined);
    req.write(csv(1000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    req.destroy();
    for (let k = 0; k < 100 && !lines.some((l) => /client closed/.test(l.msg)); k++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(lines.find((l) => /client closed/.test(l.msg))?.level).toBe(30);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  } finally {
    await app.close();
  }
});

test('a full disk stops an import with the counts of exactly what was committed', () => {
  const dir = tempDataDir();
  const db = openDatabase(dir);
  // SQLite answers SQLITE_FULL once the file would pass this many pages: a full disk, on demand.
  const pages = db.pragma('page_count', { simple: true }) as number;
  db.pragma(`max_page_count = ${pages + 40}`);
  const session = new ImportSession(new RatingsStore(db), {
    format: 'csv',
    atomic: false,
    scale: { min: 1, max: 5 },
    spoolDir: path.join(dir, 'tmp'),
    batchRows: 500,
  });
  let failure: unknown;
  try {
    session.push(Buffer.from(csv(50_000, 'full')));
    session.finish();
  } catch (err) {
    failure = err;
  }
  expect(failure).toBeInstanceOf(ImportFailedError);
  const { cause, summary } = failure as ImportFailedError;
  expect((cause as { code?: string }).code).toBe('SQLITE_FULL');
  const stored = (db.prepare('SELECT COUNT(*) AS n FROM ratings').get() as { n: number }).n;
  expect(stored).toBeGreaterThan(0);
  expect(summary.inserted + summary.updated).toBe(stored);
  expect((db.prepare("SELECT value FROM meta WHERE key = 'ratings'").get() as { value: number }).value).toBe(stored);
  db.close();
});

test('bulk writes tell inserts from updates, let the later of two rows win and keep item totals', () => {
  const db = openDatabase(tempDataDir());
  const store = new RatingsStore(db);
  const row = (u: number, i: number, rating: number) => ({ userId: `u${u}`, itemId: `i${i}`, rating, timestamp: null });
  // 40 new pairs: whole chunks of new rows.
  expect(store.upsert(Array.from({ length: 40 }, (_, k) => row(k % 5, k, 3)))).toEqual({ inserted: 40, updated: 0 });
  // 20 existing pairs among 20 new ones, and one pair twice in the same chunk.
  const mixed = [...Array.from({ length: 20 }, (_, k) => row(k % 5, k, 5)), ...Array.from({ length: 20 }, (_, k) => row(9, k, 1)), row(9, 0, 4)];
  expect(store.upsert(mixed)).toEqual({ inserted: 20, updated: 21 });
  const get = (u: number, i: number) =>
    db
      .prepare('SELECT rating FROM ratings r JOIN users a ON a.id = r.user_id JOIN items b ON b.id = r.item_id WHERE a.ext_id = ? AND b.ext_id = ?')
      .pluck()
      .get(`u${u}`, `i${i}`);
  expect(get(9, 0)).toBe(4);
  expect(get(0, 0)).toBe(5);
  expect(get(1, 21)).toBe(3);
  const totals = db.prepare('SELECT ext_id, rating_count AS n, rating_sum AS s FROM items').all() as { ext_id: string; n: number; s: number }[];
  const actual = db
    .prepare('SELECT b.ext_id, COUNT(*) AS n, SUM(r.rating) AS s FROM ratings r JOIN items b ON b.id = r.item_id GROUP BY b.ext_id')
    .all();
  expect(totals.filter((t) => t.n > 0).sort((a, b) => a.ext_id.localeCompare(b.ext_id))).toEqual(
    (actual as { ext_id: string }[]).sort((a, b) => a.ext_id.localeCompare(b.ext_id)),
  );
  expect(db.prepare("SELECT value FROM meta WHERE key = 'ratings'").pluck().get()).toBe(60);
  db.close();
});

test('when the writer thread dies, readiness says so and writes fail with a 500', async () => {
  const app = await testApp();
  try {
    await (app.writer as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const ready = await app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().code).toBe('RECO_ERR_NOT_READY');
    const write = await postJson(app, '/ratings', { userId: 'u', itemId: 'i', rating: 3 });
    expect(write.statusCode).toBe(500);
    expect(write.json().code).toBe('RECO_ERR_INTERNAL');
    expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
  } finally {
    await app.close();
  }
});
