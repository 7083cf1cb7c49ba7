import fs from 'node:fs';
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import { projectRoot } from '../root';

export const MIGRATIONS_DIR = path.join(projectRoot(), 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.split('_')[0]), name: f, sql: fs.readFileSync(path.join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

/** Reads the newest applied version with a statement prepared once; runs no DDL, so the table must exist. */
export function appliedVersionReader(db: Database): () => number {
  const newest = db.prepare('SELECT MAX(version) AS v FROM schema_migrations');
  return () => (newest.get() as { v: number | null }).v ?? 0;
}

export function currentVersion(db: Database): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  return appliedVersionReader(db)();
}

/**
 * Applies every migration the database has not recorded, in version order, each in its own
 * transaction. Returns the versions applied. Recorded versions are compared one by one rather
 * than against the newest: migrations written on separate branches can be merged in any order.
 */
export function migrate(db: Database, dir = MIGRATIONS_DIR): number[] {
  currentVersion(db);
  const done = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const applied: number[] = [];
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of listMigrations(dir)) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    })();
    applied.push(m.version);
  }
  return applied;
}

export function latestVersion(dir = MIGRATIONS_DIR): number {
  const all = listMigrations(dir);
  return all.length ? all[all.length - 1].version : 0;
}
