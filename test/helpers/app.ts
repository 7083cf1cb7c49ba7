import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { onRelease } from './cleanup';

/** A new empty folder under the system's temporary folder, removed after the test (or the file) that made it. */
export function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-test-'));
  onRelease(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Closes the app after the test (or the file) that built it; closing twice is harmless. */
export function closeAfterwards(app: FastifyInstance): FastifyInstance {
  onRelease(() => app.close());
  return app;
}

/** The real app on a real SQLite file in a temporary folder, configured through the same environment variables as production. */
export async function testApp(env: Record<string, string> = {}, dataDir = tempDataDir()): Promise<FastifyInstance> {
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env });
  const app = closeAfterwards(await buildApp({ config, logger: false }));
  await app.ready();
  return app;
}

export async function postJson(app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

/** Everything stored, as one comparable value: proves a rejected request changed nothing. */
export function storeDigest(app: FastifyInstance): string {
  const rows = app.db
    .prepare(
      `SELECT u.ext_id AS u, i.ext_id AS i, r.rating, r.ts FROM ratings r JOIN users u ON u.id = r.user_id JOIN items i ON i.id = r.item_id ORDER BY 1, 2`,
    )
    .all();
  const items = app.db.prepare('SELECT ext_id, title, attributes FROM items ORDER BY ext_id').all();
  const users = app.db.prepare('SELECT ext_id FROM users ORDER BY ext_id').all();
  return JSON.stringify({ rows, items, users });
}

/**
 * For a describe block: returns an opener of test apps, each closed after its test even when
 * an assertion failed (the app's database and job runner never outlive the test).
 */
export function appsClosedAfterEach(): (env?: Record<string, string>, dataDir?: string) => Promise<FastifyInstance> {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });
  return async (env = {}, dataDir = tempDataDir()) => {
    const app = await testApp(env, dataDir);
    apps.push(app);
    return app;
  };
}
