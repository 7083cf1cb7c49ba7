import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { currentVersion, latestVersion, listMigrations, migrate } from '../src/db/migrate';
import { DB_FILE, openDatabase } from '../src/db/open';
import { tempDataDir } from './helpers/app';

describe('migrations', () => {
  test('a fresh database reaches the latest version and a second start is a no-op', () => {
    const dir = tempDataDir();
    const db = openDatabase(dir);
    expect(latestVersion()).toBeGreaterThanOrEqual(2);
    expect(currentVersion(db)).toBe(latestVersion());
    const applied = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
    expect(applied.map((r) => r.version)).toEqual(listMigrations().map((m) => m.version));
    db.prepare("INSERT INTO users (ext_id, created_at) VALUES ('u', 1)").run();
    db.close();
    const again = openDatabase(dir);
    expect(migrate(again)).toEqual([]);
    expect(again.prepare('SELECT COUNT(*) AS n FROM users').get()).toEqual({ n: 1 });
    expect(again.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(again.pragma('foreign_keys', { simple: true })).toBe(1);
    again.close();
  });

  test('a failing migration is rolled back whole and not recorded', () => {
    const dir = tempDataDir();
    const migDir = path.join(dir, 'migrations');
    fs.mkdirSync(migDir);
    fs.writeFileSync(path.join(migDir, '001_ok.sql'), 'CREATE TABLE a (x INTEGER);');
    fs.writeFileSync(path.join(migDir, '002_bad.sql'), 'CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);');
    const db = new BetterSqlite3(path.join(dir, DB_FILE));
    expect(() => migrate(db, migDir)).toThrow();
    expect(currentVersion(db)).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeUndefined();
    db.close();
  });
});
