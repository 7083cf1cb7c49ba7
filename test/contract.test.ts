import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import YAML from 'yaml';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { AUTOREC_SETTINGS } from '../src/engine/autorec/settings';
import { MF_SETTINGS, resolveMfSettings } from '../src/engine/mf/params';
import { NNMF_SETTINGS, PARAM_NAMES } from '../src/engine/params';
import type { Setting, SettingsTable } from '../src/engine/settings-table';
import { TrainSettings } from '../src/schemas/serving';
import { closeAfterwards, postJson, tempDataDir } from './helpers/app';
import { importSynthetic, trainModel } from './helpers/training';

const spec = YAML.parse(fs.readFileSync(path.join(__dirname, '..', 'openapi.yaml'), 'utf8'));
const toSpecPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

interface Seen {
  method: string;
  route: string;
  status: number;
  type: string;
  body: string;
}

let app: FastifyInstance;
const seen: Seen[] = [];

beforeAll(async () => {
  app = closeAfterwards(await buildApp({ config: loadConfig({ DATA_DIR: tempDataDir(), LOG_LEVEL: 'silent' }), logger: false }));
  app.addHook('onSend', async (request, reply, payload) => {
    seen.push({
      method: request.method,
      route: request.routeOptions.url ?? '',
      status: reply.statusCode,
      type: String(reply.getHeader('content-type') ?? ''),
      body: typeof payload === 'string' ? payload : '',
    });
    return payload;
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

describe('OpenAPI contract', () => {
  test('openapi.yaml is exactly the spec the app serves', async () => {
    const served = JSON.parse(JSON.stringify(app.swagger()));
    expect(served).toEqual(spec);
    const res = await app.inject({ url: '/openapi.json' });
    expect(res.json()).toEqual(spec);
  });

  test("the documented training settings are exactly the engine's, each with its range, default and meaning", () => {
    // The rest are the job's own settings (engine, buckets) and the per-kind objects.
    const jobLevel = ['engine', 'validationFraction', 'evaluationFraction', 'nnmf', 'mf', 'autorec'];
    const documented = Object.keys(TrainSettings.properties).filter((k) => !jobLevel.includes(k));
    expect(documented.sort()).toEqual([...PARAM_NAMES].sort());
    const params = spec.paths['/jobs'].post.requestBody.content['application/json'].schema.properties.params.properties;
    const tables: Record<string, SettingsTable<object>> = { nnmf: NNMF_SETTINGS, mf: MF_SETTINGS, autorec: AUTOREC_SETTINGS };
    for (const [kind, table] of Object.entries(tables)) {
      const props = params[kind].properties as Record<string, Record<string, unknown>>;
      expect(Object.keys(props).sort()).toEqual(Object.keys(table).sort());
      for (const [name, setting] of Object.entries(table) as [string, Setting][]) {
        const doc = props[name];
        expect({ kind, name, description: typeof doc.description, default: doc.default }).toEqual({
          kind,
          name,
          description: 'string',
          default: setting.default,
        });
        if (setting.type === 'integer' || setting.type === 'number') {
          // A setting that also takes "auto" documents its range in the numeric branch of its anyOf.
          const range = setting.auto ? (doc.anyOf as Record<string, unknown>[]).find((b) => b.type !== 'string')! : doc;
          expect({ kind, name, min: range.minimum, max: range.maximum }).toEqual({ kind, name, min: setting.min, max: setting.max });
        }
      }
    }
    // The spec's ranges are the engine's: a value just outside one is refused by both.
    expect(params.mf.properties.k.maximum).toBe(1024);
    expect(() => resolveMfSettings({ k: 1025 })).toThrow(/k must be an integer 1..1024/);
  });

  test('every route is documented', () => {
    const missing = app.routeList
      .filter((r) => !r.hidden && !r.url.startsWith('/docs'))
      .filter((r) => !spec.paths[toSpecPath(r.url)]?.[r.method.toLowerCase()]);
    expect(missing).toEqual([]);
    const operations = Object.values(spec.paths).flatMap((ops) => Object.keys(ops as object));
    expect(operations.length).toBeGreaterThanOrEqual(22);
  });

  test('responses of every documented route validate against the spec', async () => {
    await importSynthetic(app);
    const job = await trainModel(app);
    expect(job.status).toBe('succeeded');
    const calls: [string, string, unknown?][] = [
      ['GET', '/health'],
      ['GET', '/ready'],
      ['POST', '/ratings', { userId: 'u1', itemId: 'i1', rating: 4, timestamp: 5 }],
      ['POST', '/ratings', [{ userId: 'u1', itemId: 'i1', rating: 9 }]],
      ['GET', '/users/u1/ratings?limit=3'],
      ['GET', '/users/nobody/ratings'],
      ['PUT', '/items/i1', { title: 'One', attributes: { a: 1 } }],
      ['GET', '/items/i1'],
      ['GET', '/stats'],
      ['GET', '/stats/ratings'],
      ['GET', '/jobs'],
      ['GET', `/jobs/${job.id}`],
      ['POST', `/jobs/${job.id}/cancel`],
      ['GET', '/models'],
      ['GET', `/models/${job.modelId}`],
      ['POST', `/models/${job.modelId}/activate`],
      ['POST', '/predict', { userId: 'u1', itemId: 'i2' }],
      [
        'POST',
        '/predict',
        {
          pairs: [
            { userId: 'u1', itemId: 'i2' },
            { userId: 'new', itemId: 'i2' },
          ],
        },
      ],
      ['GET', '/users/u1/recommendations?n=5&exclude=i3'],
      ['GET', '/users/stranger/recommendations?n=3'],
      ['POST', '/users/u1/recommendations', { candidates: ['i1', 'i2', 'zzz'], n: 3 }],
      ['GET', '/items/i1/similar?n=4'],
      ['GET', '/items/none/similar'],
      ['DELETE', '/users/u1/ratings/i1'],
      ['DELETE', '/users/u2'],
      ['GET', '/users/u1/recommendations?n=3&filter=genre:none'],
      ['GET', '/users/u1/recommendations?filter=nocolon'],
      ['DELETE', '/items/i5'],
      ['DELETE', '/items/none'],
      ['GET', '/metrics'],
    ];
    for (const [method, url, body] of calls) {
      if (body === undefined) await app.inject({ method: method as 'GET', url });
      else await postJson(app, url, body).then(() => undefined);
      if (body !== undefined && method !== 'POST')
        await app.inject({ method: method as 'PUT', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    }
    await app.inject({
      method: 'POST',
      url: '/ratings/import?format=csv',
      payload: 'userId,itemId,rating\nu5,i5,3\n',
      headers: { 'content-type': 'text/csv' },
    });

    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ ...spec, $id: 'spec.json' });
    const pointer = (...parts: string[]) => parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
    const covered = new Set<string>();
    const problems: string[] = [];
    for (const s of seen) {
      if (s.route.startsWith('/docs') || s.route === '/openapi.json' || s.route === '') continue;
      const p = toSpecPath(s.route);
      const m = s.method.toLowerCase();
      const op = spec.paths[p]?.[m];
      if (!op) {
        problems.push(`${m} ${p}: not in the spec`);
        continue;
      }
      covered.add(`${m} ${p}`);
      const resp = op.responses[String(s.status)];
      if (!resp) {
        problems.push(`${m} ${p}: status ${s.status} not documented`);
        continue;
      }
      if (!s.type.startsWith('application/json')) continue;
      const validate = ajv.compile({
        $ref: `spec.json#/${pointer('paths', p, m, 'responses', String(s.status), 'content', 'application/json', 'schema')}`,
      });
      if (!validate(JSON.parse(s.body))) problems.push(`${m} ${p} ${s.status}: ${ajv.errorsText(validate.errors)}`);
    }
    expect(problems).toEqual([]);
    const documented = Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops as object).map((m) => `${m} ${p}`));
    expect(documented.filter((d) => !covered.has(d))).toEqual([]);
  });
});
