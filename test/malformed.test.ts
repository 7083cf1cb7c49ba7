import type { FastifyInstance } from 'fastify';
import { storeDigest, testApp } from './helpers/app';

let app: FastifyInstance;
const KEY = 'k-malformed-0123456789';
const auth = { authorization: `Bearer ${KEY}` };

beforeAll(async () => {
  app = await testApp({ API_KEYS: KEY, MAX_BATCH: '50', BODY_LIMIT: '64kb' });
  const seed = await app.inject({
    method: 'POST',
    url: '/ratings',
    headers: { ...auth, 'content-type': 'application/json' },
    payload: JSON.stringify([
      { userId: 'u1', itemId: 'i1', rating: 4 },
      { userId: 'u2', itemId: 'i2', rating: 2 },
    ]),
  });
  expect(seed.statusCode).toBe(200);
});
afterAll(async () => {
  await app.close();
});

type Case = [
  name: string,
  method: 'POST' | 'PUT' | 'GET' | 'DELETE',
  url: string,
  body: string | undefined,
  contentType: string | null,
  status: number,
  code: string,
  headers?: Record<string, string>,
];

const json = 'application/json';
const row = (over: Record<string, unknown>) => JSON.stringify({ userId: 'u9', itemId: 'i9', rating: 3, ...over });
const longId = 'x'.repeat(129);

const cases: Case[] = [
  ['rating as a string', 'POST', '/ratings', row({ rating: '4' }), json, 400, 'RECO_ERR_INVALID_RATING'],
  ['rating missing', 'POST', '/ratings', JSON.stringify({ userId: 'u9', itemId: 'i9' }), json, 400, 'RECO_ERR_INVALID_RATING'],
  ['rating null', 'POST', '/ratings', row({ rating: null }), json, 400, 'RECO_ERR_INVALID_RATING'],
  ['rating NaN literal', 'POST', '/ratings', '{"userId":"u9","itemId":"i9","rating":NaN}', json, 400, 'RECO_ERR_MALFORMED_JSON'],
  ['rating Infinity literal', 'POST', '/ratings', '{"userId":"u9","itemId":"i9","rating":Infinity}', json, 400, 'RECO_ERR_MALFORMED_JSON'],
  ['rating overflows to Infinity', 'POST', '/ratings', '{"userId":"u9","itemId":"i9","rating":1e999}', json, 400, 'RECO_ERR_INVALID_RATING'],
  ['rating above the scale', 'POST', '/ratings', row({ rating: 5.5 }), json, 400, 'RECO_ERR_INVALID_RATING'],
  ['rating below the scale', 'POST', '/ratings', row({ rating: 0 }), json, 400, 'RECO_ERR_INVALID_RATING'],
  ['rating as an object', 'POST', '/ratings', row({ rating: { v: 3 } }), json, 400, 'RECO_ERR_INVALID_RATING'],
  ['userId missing', 'POST', '/ratings', JSON.stringify({ itemId: 'i9', rating: 3 }), json, 400, 'RECO_ERR_VALIDATION'],
  ['userId a number', 'POST', '/ratings', row({ userId: 12 }), json, 400, 'RECO_ERR_VALIDATION'],
  ['userId empty', 'POST', '/ratings', row({ userId: '' }), json, 400, 'RECO_ERR_VALIDATION'],
  ['userId too long', 'POST', '/ratings', row({ userId: longId }), json, 400, 'RECO_ERR_VALIDATION'],
  ['userId with a control character', 'POST', '/ratings', row({ userId: 'a\u0007b' }), json, 400, 'RECO_ERR_VALIDATION'],
  ['itemId with a newline', 'POST', '/ratings', row({ itemId: 'a\nb' }), json, 400, 'RECO_ERR_VALIDATION'],
  ['timestamp negative', 'POST', '/ratings', row({ timestamp: -5 }), json, 400, 'RECO_ERR_VALIDATION'],
  ['timestamp fractional', 'POST', '/ratings', row({ timestamp: 1.5 }), json, 400, 'RECO_ERR_VALIDATION'],
  ['unknown field', 'POST', '/ratings', row({ extra: true }), json, 400, 'RECO_ERR_VALIDATION'],
  ['body is a number', 'POST', '/ratings', '42', json, 400, 'RECO_ERR_VALIDATION'],
  ['body is null', 'POST', '/ratings', 'null', json, 400, 'RECO_ERR_VALIDATION'],
  ['empty array', 'POST', '/ratings', '[]', json, 400, 'RECO_ERR_VALIDATION'],
  ['one bad row spoils the batch', 'POST', '/ratings', `[${row({})},${row({ itemId: 'i8', rating: 9 })}]`, json, 400, 'RECO_ERR_INVALID_RATING'],
  [
    'batch over the limit',
    'POST',
    '/ratings',
    JSON.stringify(Array.from({ length: 51 }, (_, k) => ({ userId: 'b', itemId: `i${k}`, rating: 3 }))),
    json,
    400,
    'RECO_ERR_BATCH_TOO_LARGE',
  ],
  [
    'body over the size limit',
    'POST',
    '/ratings',
    JSON.stringify([{ userId: 'big', itemId: 'x'.repeat(100), rating: 3, pad: 'y'.repeat(70_000) }]),
    json,
    413,
    'RECO_ERR_BODY_TOO_LARGE',
  ],
  ['malformed JSON', 'POST', '/ratings', '{"userId":"u9",', json, 400, 'RECO_ERR_MALFORMED_JSON'],
  ['empty JSON body', 'POST', '/ratings', '', json, 400, 'RECO_ERR_EMPTY_BODY'],
  ['wrong content type for ratings', 'POST', '/ratings', 'userId,itemId,rating\nu9,i9,3\n', 'text/csv', 415, 'RECO_ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['unknown content type', 'POST', '/ratings', '<r/>', 'application/xml', 415, 'RECO_ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['import with a JSON body', 'POST', '/ratings/import', row({}), json, 415, 'RECO_ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['import with an unknown format', 'POST', '/ratings/import?format=xlsx', 'a,b,c\n', 'text/csv', 400, 'RECO_ERR_VALIDATION'],
  [
    'import atomic with a malformed CSV line',
    'POST',
    '/ratings/import?format=csv&atomic=true',
    'userId,itemId,rating\nu9,i9,3\n"u9,i8,3\n',
    'text/csv',
    400,
    'RECO_ERR_IMPORT_REJECTED',
  ],
  [
    'import atomic with a bad header',
    'POST',
    '/ratings/import?format=csv&atomic=true',
    'who,what,score\nu9,i9,3\n',
    'text/csv',
    400,
    'RECO_ERR_IMPORT_REJECTED',
  ],
  ['import of an empty body', 'POST', '/ratings/import?format=csv', '', 'text/csv', 400, 'RECO_ERR_EMPTY_BODY'],
  [
    'import atomic with too many fields',
    'POST',
    '/ratings/import?format=movielens-1m&atomic=true',
    '1::2::3::4::5\n',
    'text/plain',
    400,
    'RECO_ERR_IMPORT_REJECTED',
  ],
  ['item metadata with unknown field', 'PUT', '/items/i1', JSON.stringify({ name: 'x' }), json, 400, 'RECO_ERR_VALIDATION'],
  ['item attributes not an object', 'PUT', '/items/i1', JSON.stringify({ attributes: [1, 2] }), json, 400, 'RECO_ERR_VALIDATION'],
  ['item title too long', 'PUT', '/items/i1', JSON.stringify({ title: 't'.repeat(1001) }), json, 400, 'RECO_ERR_VALIDATION'],
  ['path ID too long', 'GET', `/items/${longId}`, undefined, null, 400, 'RECO_ERR_VALIDATION'],
  ['path ID with a control character', 'DELETE', '/users/a%01b', undefined, null, 400, 'RECO_ERR_VALIDATION'],
  ['negative page offset', 'GET', '/users/u1/ratings?offset=-1', undefined, null, 400, 'RECO_ERR_VALIDATION'],
  ['page limit not a number', 'GET', '/users/u1/ratings?limit=ten', undefined, null, 400, 'RECO_ERR_VALIDATION'],
  ['unknown route', 'GET', '/nowhere', undefined, null, 404, 'RECO_ERR_NOT_FOUND'],
  ['job of an unknown type', 'POST', '/jobs', JSON.stringify({ type: 'explode' }), json, 400, 'RECO_ERR_VALIDATION'],
  ['job with an unknown setting', 'POST', '/jobs', JSON.stringify({ type: 'train', params: { turbo: true } }), json, 400, 'RECO_ERR_VALIDATION'],
  ['job with a bad learning rate', 'POST', '/jobs', JSON.stringify({ type: 'train', params: { lr: -1 } }), json, 400, 'RECO_ERR_VALIDATION'],
  ['job with a string setting', 'POST', '/jobs', JSON.stringify({ type: 'train', params: { maxEpochs: '5' } }), json, 400, 'RECO_ERR_VALIDATION'],
  ['predict with no pairs', 'POST', '/predict', JSON.stringify({ pairs: [] }), json, 400, 'RECO_ERR_VALIDATION'],
  ['predict with a missing itemId', 'POST', '/predict', JSON.stringify({ userId: 'u1' }), json, 400, 'RECO_ERR_VALIDATION'],
  [
    'predict with too many pairs',
    'POST',
    '/predict',
    JSON.stringify({ pairs: Array.from({ length: 51 }, () => ({ userId: 'u', itemId: 'i' })) }),
    json,
    400,
    'RECO_ERR_BATCH_TOO_LARGE',
  ],
  ['recommendations with n=0', 'GET', '/users/u1/recommendations?n=0', undefined, null, 400, 'RECO_ERR_VALIDATION'],
  ['rerank without candidates', 'POST', '/users/u1/recommendations', JSON.stringify({ n: 3 }), json, 400, 'RECO_ERR_VALIDATION'],
  ['job status filter unknown', 'GET', '/jobs?status=sleeping', undefined, null, 400, 'RECO_ERR_VALIDATION'],
  ['unknown job', 'GET', '/jobs/job_nope', undefined, null, 404, 'RECO_ERR_JOB_NOT_FOUND'],
  ['activate an unknown model', 'POST', '/models/mdl_nope/activate', undefined, null, 404, 'RECO_ERR_MODEL_NOT_FOUND'],
  ['no bearer key', 'POST', '/ratings', row({}), json, 401, 'RECO_ERR_UNAUTHORIZED', {}],
  ['wrong bearer key', 'POST', '/ratings', row({}), json, 401, 'RECO_ERR_UNAUTHORIZED', { authorization: 'Bearer k-wrong-0000000000000' }],
  ['malformed authorization header', 'DELETE', '/users/u1', undefined, null, 401, 'RECO_ERR_UNAUTHORIZED', { authorization: 'Bearer' }],
];

describe('malformed requests get a clear 4xx and change nothing', () => {
  // Each row is passed whole: jest would take a missing trailing argument for a done callback.
  test.each(cases.map((c) => [c[0], c] as const))('%s', async (_name, [, method, url, body, contentType, status, code, headers]) => {
    const before = storeDigest(app);
    const h: Record<string, string> = { ...(headers ?? auth) };
    if (contentType) h['content-type'] = contentType;
    const res = await app.inject({ method, url, payload: body, headers: h });
    expect({ status: res.statusCode, code: res.json().code }).toEqual({ status, code });
    const b = res.json();
    expect(typeof b.message).toBe('string');
    expect(b.statusCode).toBe(status);
    expect(typeof b.error).toBe('string');
    expect(storeDigest(app)).toBe(before);
    expect(app.jobs.list(null, 10, 0)).toEqual([]);
  });

  // The control, after the table: with the same key and headers, well-formed versions of those
  // requests are accepted and stored, so each rejection above is its input's doing.
  test('well-formed requests through the same harness are accepted and change the store', async () => {
    const wellFormed: [method: 'POST' | 'PUT' | 'GET', url: string, body: string | undefined, contentType: string | null, status: number][] = [
      ['POST', '/ratings', row({}), json, 200],
      ['POST', '/ratings', `[${row({ itemId: 'i8', rating: 1.5 })},${row({ userId: 'u8' })}]`, json, 200],
      ['POST', '/ratings/import?format=csv&atomic=true', 'userId,itemId,rating\nu7,i7,3\n', 'text/csv', 200],
      ['POST', '/ratings/import?format=movielens-1m&atomic=true', '17::27::4\n', 'text/plain', 200],
      ['PUT', '/items/i1', JSON.stringify({ title: 'One', attributes: { year: 1999 } }), json, 200],
      ['GET', '/users/u1/ratings?limit=10&offset=0', undefined, null, 200],
      ['GET', `/items/${'x'.repeat(128)}`, undefined, null, 404],
    ];
    const before = storeDigest(app);
    const answered = [];
    for (const [method, url, body, contentType] of wellFormed) {
      const headers: Record<string, string> = { ...auth };
      if (contentType) headers['content-type'] = contentType;
      answered.push((await app.inject({ method, url, payload: body, headers })).statusCode);
    }
    expect(answered).toEqual(wellFormed.map((w) => w[4]));
    const after = JSON.parse(storeDigest(app));
    expect(storeDigest(app)).not.toBe(before);
    expect(after.rows).toHaveLength(2 + 5);
    expect(after.items.find((i: { ext_id: string }) => i.ext_id === 'i1').title).toBe('One');
  });
});
