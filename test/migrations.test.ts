import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { currentVersion, latestVersion, listMigrations, migrate } from '../src/db/migrate';
import { DB_FILE, openDatabase } from '../src/db/open';
import { tempDataDir } from './helpers/app';

/** A database in a temporary folder, with a migrations folder of the given files. */
function scratch(files: Record<string, string>) {
  const dir = tempDataDir();
  const migDir = path.join(dir, 'migrations');
  fs.mkdirSync(migDir);
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(migDir, name), sql);
  return { db: new BetterSqlite3(path.join(dir, DB_FILE)), migDir };
}

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
    const { db, migDir } = scratch({
      '001_ok.sql': 'CREATE TABLE a (x INTEGER);',
      '002_bad.sql': 'CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);',
    });
    expect(() => migrate(db, migDir)).toThrow();
    expect(currentVersion(db)).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeUndefined();
    db.close();
  });
});

test('migration 004 fills the kept counts from the data already stored', () => {
  const { db, migDir } = scratch(
    Object.fromEntries(
      listMigrations()
        .filter((m) => m.version <= 2)
        .map((m) => [m.name, m.sql]),
    ),
  );
  migrate(db, migDir);
  db.exec(`INSERT INTO users (id, ext_id, created_at) VALUES (1, 'a', 0), (2, 'b', 0);
    INSERT INTO items (id, ext_id, created_at) VALUES (1, 'x', 0), (2, 'y', 0), (3, 'z', 0);
    INSERT INTO ratings (user_id, item_id, rating) VALUES (1, 1, 4), (2, 1, 2), (1, 2, 5);`);
  expect(migrate(db)).toEqual(
    listMigrations()
      .filter((m) => m.version > 2)
      .map((m) => m.version),
  );
  const meta = Object.fromEntries(
    db.prepare("SELECT key, value FROM meta WHERE key IN ('users', 'items', 'ratings')").raw().all() as [string, number][],
  );
  expect(meta).toEqual({ users: 2, items: 3, ratings: 3 });
  expect(db.prepare('SELECT ext_id, rating_count, rating_sum FROM items ORDER BY ext_id').raw().all()).toEqual([
    ['x', 2, 6],
    ['y', 1, 5],
    ['z', 0, 0],
  ]);
  db.close();
});

test('a migration numbered below the newest applied one is still applied (branches merged in any order)', () => {
  const { db, migDir } = scratch({ '001_a.sql': 'CREATE TABLE a (x INTEGER);', '003_c.sql': 'CREATE TABLE c (x INTEGER);' });
  expect(migrate(db, migDir)).toEqual([1, 3]);
  fs.writeFileSync(path.join(migDir, '002_b.sql'), 'CREATE TABLE b (x INTEGER);');
  expect(migrate(db, migDir)).toEqual([2]);
  expect(migrate(db, migDir)).toEqual([]);
  db.close();
});
