import type { Database, Statement } from 'better-sqlite3';
import type { RatingRow } from '../ratings/validate';

export interface UpsertResult {
  inserted: number;
  updated: number;
}

/** Most IDs kept in the ext_id → key caches before they are dropped and refilled from the tables. */
const CACHE_LIMIT = 1_000_000;

/** Ratings per multi-row INSERT in a bulk write. */
const CHUNK = 16;

/**
 * Every write to users, items and ratings, with the counters of migration 004 (meta
 * 'users'/'items'/'ratings', items.rating_count/rating_sum) changed in the same transaction.
 * One instance per process owns the writes: the writer thread in the server, the CLI alone.
 */
export class RatingsStore {
  private readonly s: Record<string, Statement>;
  // Keys of external IDs seen lately. Only this store inserts or deletes users and items on its
  // connection, so it keeps them current; a bulk load then looks each ID up once, not per batch.
  private readonly users = new Map<string, number>();
  private readonly items = new Map<string, number>();
  readonly upsertMany: (rows: readonly RatingRow[]) => UpsertResult;

  constructor(readonly db: Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      userId: p('SELECT id FROM users WHERE ext_id = ?').pluck(),
      itemId: p('SELECT id FROM items WHERE ext_id = ?').pluck(),
      insertUser: p('INSERT INTO users (ext_id, created_at) VALUES (?, ?)'),
      insertItem: p('INSERT INTO items (ext_id, created_at) VALUES (?, ?)'),
      insertRating: p('INSERT OR IGNORE INTO ratings (user_id, item_id, rating, ts) VALUES (?, ?, ?, ?)'),
      insertChunk: p(`INSERT OR IGNORE INTO ratings (user_id, item_id, rating, ts) VALUES ${Array(CHUNK).fill('(?, ?, ?, ?)').join(', ')}`),
      savepoint: p('SAVEPOINT chunk'),
      release: p('RELEASE chunk'),
      rollbackTo: p('ROLLBACK TO chunk'),
      oldRating: p('SELECT rating FROM ratings WHERE user_id = ? AND item_id = ?').pluck(),
      updateRating: p('UPDATE ratings SET rating = ?, ts = ? WHERE user_id = ? AND item_id = ?'),
      itemTotals: p('UPDATE items SET rating_count = rating_count + ?, rating_sum = rating_sum + ? WHERE id = ?'),
      count: p('UPDATE meta SET value = value + ? WHERE key = ?'),
      bump: p("UPDATE meta SET value = value + 1 WHERE key = 'data_version'"),
      userRatings: p('SELECT item_id, rating FROM ratings WHERE user_id = ?').raw(),
      deleteUser: p('DELETE FROM users WHERE id = ?'),
      deleteUserRatings: p('DELETE FROM ratings WHERE user_id = ?'),
      deleteRating: p('DELETE FROM ratings WHERE user_id = ? AND item_id = ? RETURNING rating').pluck(),
      upsertItem: p(`INSERT INTO items (ext_id, title, attributes, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(ext_id) DO UPDATE SET title = excluded.title, attributes = excluded.attributes`),
    };
    this.upsertMany = db.transaction((rows: readonly RatingRow[]) => this.writeRows(rows));
  }

  private key(cache: Map<string, number>, ext: string, find: Statement, insert: Statement, now: number, created: { n: number }): number {
    let id = cache.get(ext);
    if (id !== undefined) return id;
    id = find.get(ext) as number | undefined;
    if (id === undefined) {
      id = Number(insert.run(ext, now).lastInsertRowid);
      created.n++;
    }
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(ext, id);
    return id;
  }

  /**
   * Writes rows inside the caller's transaction. Later rows for the same pair win. If the
   * transaction rolls back, the caches may name keys that no longer exist, so callers drop
   * them with forgetKeys().
   */
  writeRows(rows: readonly RatingRow[]): UpsertResult {
    const n = rows.length;
    if (n === 0) return { inserted: 0, updated: 0 };
    const now = Date.now();
    const newUsers = { n: 0 };
    const newItems = { n: 0 };
    const s = this.s;
    const u = new Array<number>(n);
    const i = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      u[k] = this.key(this.users, rows[k].userId, s.userId, s.insertUser, now, newUsers);
      i[k] = this.key(this.items, rows[k].itemId, s.itemId, s.insertItem, now, newItems);
    }
    // Per-item count and sum deltas, applied once per item at the end instead of once per row.
    const totals = new Map<number, [number, number]>();
    const add = (item: number, count: number, sum: number) => {
      const t = totals.get(item);
      if (t === undefined) totals.set(item, [count, sum]);
      else (t[0] += count), (t[1] += sum);
    };
    let inserted = 0;
    let updated = 0;
    const one = (k: number) => {
      const r = rows[k];
      if (s.insertRating.run(u[k], i[k], r.rating, r.timestamp).changes === 1) {
        inserted++;
        add(i[k], 1, r.rating);
      } else {
        const old = s.oldRating.get(u[k], i[k]) as number;
        s.updateRating.run(r.rating, r.timestamp, u[k], i[k]);
        updated++;
        add(i[k], 0, r.rating - old);
      }
    };
    // New ratings go in CHUNK at a time, one statement each (half the cost of a statement per
    // row). A chunk that met an existing pair, or holds one twice, is undone to its savepoint
    // and written row by row, which tells updates from inserts.
    const args = new Array<number | null>(4 * CHUNK);
    let k = 0;
    for (; k + CHUNK <= n; k += CHUNK) {
      for (let j = 0; j < CHUNK; j++) {
        const r = rows[k + j];
        args[4 * j] = u[k + j];
        args[4 * j + 1] = i[k + j];
        args[4 * j + 2] = r.rating;
        args[4 * j + 3] = r.timestamp;
      }
      s.savepoint.run();
      if (s.insertChunk.run(args).changes === CHUNK) {
        s.release.run();
        inserted += CHUNK;
        for (let j = 0; j < CHUNK; j++) add(i[k + j], 1, rows[k + j].rating);
      } else {
        s.rollbackTo.run();
        s.release.run();
        for (let j = 0; j < CHUNK; j++) one(k + j);
      }
    }
    for (; k < n; k++) one(k);
    for (const [item, [count, sum]] of totals) if (count !== 0 || sum !== 0) s.itemTotals.run(count, sum, item);
    this.addCounts(newUsers.n, newItems.n, inserted);
    return { inserted, updated };
  }

  private addCounts(users: number, items: number, ratings: number): void {
    if (users !== 0) this.s.count.run(users, 'users');
    if (items !== 0) this.s.count.run(items, 'items');
    if (ratings !== 0) this.s.count.run(ratings, 'ratings');
    this.s.bump.run();
  }

  /** Drops the key caches: after a rolled-back transaction they may hold keys that were never committed. */
  forgetKeys(): void {
    this.users.clear();
    this.items.clear();
  }

  deleteUser(userId: string): boolean {
    return this.guarded(() =>
      this.db.transaction(() => {
        const u = this.s.userId.get(userId) as number | undefined;
        if (u === undefined) return false;
        const rated = this.s.userRatings.all(u) as [number, number][];
        for (const [i, rating] of rated) this.s.itemTotals.run(-1, -rating, i);
        // Explicitly rather than by ON DELETE CASCADE: the writing connection runs without
        // foreign-key checks (see tuning.ts).
        this.s.deleteUserRatings.run(u);
        this.s.deleteUser.run(u);
        this.users.delete(userId);
        this.addCounts(-1, 0, -rated.length);
        return true;
      })(),
    );
  }

  deleteRating(userId: string, itemId: string): boolean {
    return this.guarded(() =>
      this.db.transaction(() => {
        const u = this.s.userId.get(userId) as number | undefined;
        const i = this.s.itemId.get(itemId) as number | undefined;
        if (u === undefined || i === undefined) return false;
        const old = this.s.deleteRating.get(u, i) as number | undefined;
        if (old === undefined) return false;
        this.s.itemTotals.run(-1, -old, i);
        this.addCounts(0, 0, -1);
        return true;
      })(),
    );
  }

  /** Creates or replaces an item's metadata; returns whether the item is new. */
  putItem(itemId: string, title: string | null, attributes: Record<string, unknown> | null): boolean {
    return this.guarded(() =>
      this.db.transaction(() => {
        const existed = this.s.itemId.get(itemId) !== undefined;
        this.s.upsertItem.run(itemId, title, attributes === null ? null : JSON.stringify(attributes), Date.now());
        if (!existed) this.s.count.run(1, 'items');
        return !existed;
      })(),
    );
  }

  /** Upserts rows in one transaction. */
  upsert(rows: readonly RatingRow[]): UpsertResult {
    return this.guarded(() => this.upsertMany(rows));
  }

  /** Runs one transaction; a failure leaves the key caches possibly ahead of the tables, so they are dropped. */
  guarded<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      this.forgetKeys();
      throw err;
    }
  }
}
