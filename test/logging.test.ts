import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { closeAfterwards, postJson, tempDataDir } from './helpers/app';

/** The app with its real pino logger writing JSON lines into an array. */
async function loggedApp(level: string): Promise<{ app: FastifyInstance; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  const app = closeAfterwards(await buildApp({ config: loadConfig({ DATA_DIR: tempDataDir(), LOG_LEVEL: level }), logger: { level, stream } }));
  await app.ready();
  lines.length = 0;
  return { app, lines };
}

describe('request logging', () => {
  test('at info, each request logs its start and end with the id it answers with', async () => {
    const { app, lines } = await loggedApp('info');
    const res = await app.inject({ url: '/stats' });
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const mine = lines.filter((l) => l.reqId === id);
    expect(mine.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
    await app.close();
  });

  test('at warn, a successful request logs nothing and a failing one logs an error with its id', async () => {
    const { app, lines } = await loggedApp('warn');
    await app.inject({ url: '/stats' });
    expect(lines).toEqual([]);
    app.db.exec('DROP TABLE ratings');
    const res = await postJson(app, '/ratings', { userId: 'u', itemId: 'i', rating: 3 });
    expect(res.statusCode).toBe(500);
    const id = res.headers['x-request-id'] as string;
    expect(res.json().message).toContain(id);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e.reqId).toBe(id);
    await app.close();
  });

  test("a caller's sane X-Request-Id is kept; anything else is replaced; generated ids do not repeat", async () => {
    const { app } = await loggedApp('silent');
    expect((await app.inject({ url: '/health', headers: { 'x-request-id': 'trace.abc-123' } })).headers['x-request-id']).toBe('trace.abc-123');
    const replaced = (await app.inject({ url: '/health', headers: { 'x-request-id': 'has space' } })).headers['x-request-id'];
    expect(replaced).not.toBe('has space');
    const ids = new Set<string>();
    for (let k = 0; k < 500; k++) ids.add((await app.inject({ url: '/health' })).headers['x-request-id'] as string);
    expect(ids.size).toBe(500);
    await app.close();
  });
});
