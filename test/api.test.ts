import request from 'supertest';
import type { FastifyInstance } from 'fastify';
import { postJson, storeDigest, testApp } from './helpers/app';

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => {
  await app.close();
});

describe('ratings API happy paths', () => {
  test('health and readiness', async () => {
    await request(app.server).get('/health').expect(200, { status: 'ok' });
    await request(app.server).get('/ready').expect(200, { status: 'ready' });
  });

  test('one rating, then a batch with an overwrite', async () => {
    const one = await request(app.server).post('/ratings').send({ userId: 'alice', itemId: 'book-1', rating: 4, timestamp: 1700000000 });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ inserted: 1, updated: 0 });
    const batch = await request(app.server)
      .post('/ratings')
      .send([
        { userId: 'alice', itemId: 'book-1', rating: 2.5 },
        { userId: 'alice', itemId: 'book-2', rating: 5 },
        { userId: 'bob', itemId: 'book-1', rating: 1 },
      ]);
    expect(batch.body).toEqual({ inserted: 2, updated: 1 });
    expect(batch.headers['x-request-id']).toBeTruthy();
  });

  test("a user's ratings, paged", async () => {
    const res = await request(app.server).get('/users/alice/ratings?limit=1&offset=1').expect(200);
    expect(res.body).toEqual({ userId: 'alice', total: 2, limit: 1, offset: 1, ratings: [{ itemId: 'book-2', rating: 5, timestamp: null }] });
    const first = await request(app.server).get('/users/alice/ratings').expect(200);
    expect(first.body.ratings[0]).toEqual({ itemId: 'book-1', rating: 2.5, timestamp: null });
    await request(app.server).get('/users/nobody/ratings').expect(404);
  });

  test('items: stats and metadata', async () => {
    const item = await request(app.server).get('/items/book-1').expect(200);
    expect(item.body).toEqual({ itemId: 'book-1', title: null, attributes: null, hidden: false, ratingCount: 2, ratingMean: 1.75 });
    const put = await request(app.server)
      .put('/items/book-1')
      .send({ title: 'Dune', attributes: { year: 1965, tags: ['sf'] } });
    expect(put.status).toBe(200);
    expect(put.body.title).toBe('Dune');
    const created = await request(app.server).put('/items/book-9').send({ title: 'New' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ itemId: 'book-9', title: 'New', attributes: null, hidden: false, ratingCount: 0, ratingMean: null });
    const again = await request(app.server).get('/items/book-1').expect(200);
    expect(again.body.attributes).toEqual({ year: 1965, tags: ['sf'] });
    await request(app.server).get('/items/none').expect(404);
  });

  test('stats count users, items and ratings', async () => {
    const res = await request(app.server).get('/stats').expect(200);
    expect(res.body).toEqual({ users: 2, items: 3, ratings: 3 });
  });

  test('deleting a rating and a user', async () => {
    await request(app.server).delete('/users/alice/ratings/book-2').expect(204);
    await request(app.server).delete('/users/alice/ratings/book-2').expect(404);
    await request(app.server).delete('/users/bob').expect(204);
    await request(app.server).delete('/users/bob').expect(404);
    const res = await request(app.server).get('/stats').expect(200);
    expect(res.body).toEqual({ users: 1, items: 3, ratings: 1 });
  });

  test('import: CSV with quotes, TSV, MovieLens 100K and 1M, auto-detection', async () => {
    const csv = await request(app.server)
      .post('/ratings/import?format=csv')
      .set('content-type', 'text/csv')
      .send('userId,itemId,rating,timestamp\n"u,1",i1,4,100\nu2,"i ""2""",3.5,\n');
    expect(csv.body).toMatchObject({ inserted: 2, updated: 0, rejected: 0, format: 'csv' });
    const tsv = await request(app.server)
      .post('/ratings/import?format=tsv')
      .set('content-type', 'text/tab-separated-values')
      .send('itemId\tuserId\trating\ni1\tu2\t2\n');
    expect(tsv.body).toMatchObject({ inserted: 1, rejected: 0 });
    const ml100 = await request(app.server)
      .post('/ratings/import?format=movielens-100k')
      .set('content-type', 'text/plain')
      .send('1\t10\t3\t881250949\n2\t10\t4\t881250950\n');
    expect(ml100.body).toMatchObject({ inserted: 2, rejected: 0 });
    const ml1m = await request(app.server).post('/ratings/import').set('content-type', 'text/plain').send('1::10::5::978300760\n3::11::2\n');
    expect(ml1m.body).toMatchObject({ inserted: 1, updated: 1, rejected: 0, format: 'movielens-1m' });
    const r = await request(app.server).get('/users/u,1/ratings'.replace(',', '%2C')).expect(200);
    expect(r.body.ratings).toEqual([{ itemId: 'i1', rating: 4, timestamp: 100 }]);
    const quoted = await request(app.server)
      .get(`/items/${encodeURIComponent('i "2"')}`)
      .expect(200);
    expect(quoted.body.ratingMean).toBe(3.5);
  });

  test('import reports bad lines and keeps the good ones; atomic keeps none', async () => {
    const before = (await request(app.server).get('/stats')).body.ratings;
    const mixed = await request(app.server)
      .post('/ratings/import?format=csv')
      .set('content-type', 'text/csv')
      .send('userId,itemId,rating\nx1,y1,4\nx1,y2,nine\nx1,y3,7\nx1,,3\nx2,y1,1\n');
    expect(mixed.body.inserted).toBe(2);
    expect(mixed.body.rejected).toBe(3);
    expect(mixed.body.errors.map((e: { line: number }) => e.line)).toEqual([3, 4, 5]);
    const mid = (await request(app.server).get('/stats')).body.ratings;
    expect(mid).toBe(before + 2);
    const atomic = await request(app.server)
      .post('/ratings/import?format=csv&atomic=true')
      .set('content-type', 'text/csv')
      .send('userId,itemId,rating\nz1,y1,4\nz1,y2,bad\n');
    expect(atomic.status).toBe(400);
    expect(atomic.body.code).toBe('RECO_ERR_IMPORT_REJECTED');
    expect((await request(app.server).get('/stats')).body.ratings).toBe(mid);
    const atomicOk = await request(app.server)
      .post('/ratings/import?format=csv&atomic=true')
      .set('content-type', 'text/csv')
      .send('userId,itemId,rating\nz1,y1,4\nz1,y2,3\n');
    expect(atomicOk.body).toMatchObject({ inserted: 2, rejected: 0 });
  });

  test('metrics are exposed for Prometheus', async () => {
    await request(app.server).get('/stats').expect(200);
    const res = await request(app.server).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toMatch(/http_request_duration_seconds_bucket\{.*route="\/stats"/);
    expect(res.text).toMatch(/store_entities\{kind="ratings"\} \d+/);
  });

  test('request latency is counted per route and status, with cumulative buckets', async () => {
    const series = async (labels: string) => {
      const text = (await request(app.server).get('/metrics').expect(200)).text;
      const value = (name: string, extra = '') => {
        const line = text.split('\n').find((l) => l.startsWith(`http_request_duration_seconds_${name}{${extra}${labels}}`));
        return line ? Number(line.split(' ').pop()) : 0;
      };
      const bounds = text
        .split('\n')
        .filter((l) => l.startsWith('http_request_duration_seconds_bucket{le=') && l.includes(`",${labels}} `))
        .map((l) => Number(l.split(' ').pop()));
      return { count: value('count'), inf: value('bucket', 'le="+Inf",'), bounds };
    };
    const stats = 'method="GET",route="/stats",status_code="200"';
    const before = await series(stats);
    for (let k = 0; k < 3; k++) await request(app.server).get('/stats').expect(200);
    const after = await series(stats);
    expect(after.count).toBe(before.count + 3);
    expect(after.inf).toBe(after.count);
    expect(after.bounds.length).toBe(14);
    expect(after.bounds[13]).toBe(after.count);
    for (let k = 1; k < after.bounds.length; k++) expect(after.bounds[k]).toBeGreaterThanOrEqual(after.bounds[k - 1]);
    // HEAD routes Fastify adds for GET routes have their own series, and GET's is not counted twice.
    const head = 'method="HEAD",route="/stats",status_code="200"';
    const headBefore = await series(head);
    const getBefore = await series(stats);
    await app.inject({ method: 'HEAD', url: '/stats' });
    expect((await series(head)).count).toBe(headBefore.count + 1);
    expect((await series(stats)).count).toBe(getBefore.count);
    const notFound = 'method="GET",route="unmatched",status_code="404"';
    const missBefore = await series(notFound);
    await request(app.server).get('/no/such/route').expect(404);
    expect((await series(notFound)).count).toBe(missBefore.count + 1);
  });

  test('docs and the served spec', async () => {
    const docs = await request(app.server).get('/docs/').redirects(1);
    expect(docs.status).toBe(200);
    expect(docs.text).toMatch(/swagger/i);
    const spec = await request(app.server).get('/openapi.json').expect(200);
    expect(spec.body.paths['/ratings']).toBeDefined();
  });
});

describe('internal errors', () => {
  test('readiness fails with its own code once the database is gone', async () => {
    const a = await testApp();
    expect((await a.inject({ url: '/ready' })).statusCode).toBe(200);
    a.db.close();
    const res = await a.inject({ url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('RECO_ERR_NOT_READY');
    expect((await a.inject({ url: '/health' })).statusCode).toBe(200);
    await a.close();
  });

  test('a 5xx body leaks neither SQL nor stack traces', async () => {
    const a = await testApp();
    a.db.exec('DROP TABLE ratings');
    const res = await postJson(a, '/ratings', { userId: 'u', itemId: 'i', rating: 3 });
    expect(res.statusCode).toBe(500);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
    expect(body.code).toBe('RECO_ERR_INTERNAL');
    expect(res.body).not.toMatch(/ratings|SQL|sqlite|at \w+ \(/i);
    await a.close();
  });
});

describe('authentication', () => {
  const key = 'k-0123456789abcdef';
  let secured: FastifyInstance;
  beforeAll(async () => {
    secured = await testApp({ API_KEYS: `${key},other-key-0123456789` });
  });
  afterAll(async () => {
    await secured.close();
  });

  test('probes stay open, everything else needs a valid bearer key', async () => {
    expect((await secured.inject({ url: '/health' })).statusCode).toBe(200);
    expect((await secured.inject({ url: '/ready' })).statusCode).toBe(200);
    for (const headers of [{}, { authorization: 'Bearer wrong-key-000000000' }, { authorization: key }, { authorization: `Basic ${key}` }]) {
      const res = await secured.inject({ url: '/stats', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('RECO_ERR_UNAUTHORIZED');
    }
    expect((await secured.inject({ url: '/stats', headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(200);
    expect((await secured.inject({ url: '/stats', headers: { authorization: 'Bearer other-key-0123456789' } })).statusCode).toBe(200);
    const write = await postJson(secured, '/ratings', { userId: 'u', itemId: 'i', rating: 3 });
    expect(write.statusCode).toBe(401);
    expect(storeDigest(secured)).toBe(JSON.stringify({ rows: [], items: [], users: [] }));
  });
});
