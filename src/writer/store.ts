import type { Database, Statement } from 'better-sqlite3';
import type { RatingRow } from '../ratings/validate';

export interface UpsertResult {
  inserted: number;
  updated: number;
}

/** Most IDs kept in the ext_id → key caches before they are dropped and refilled from the tables. */
const CACHE_LIMIT = 1_000_000;

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
    if (rows.length === 0) return { inserted: 0, updated: 0 };
    const now = Date.now();
    const newUsers = { n: 0 };
    const newItems = { n: 0 };
    const s = this.s;
    // Per-item count and sum deltas, applied once per item at the end instead of once per row.
    const totals = new Map<number, [number, number]>();
    let inserted = 0;
    let updated = 0;
    for (const r of rows) {
      const u = this.key(this.users, r.userId, s.userId, s.insertUser, now, newUsers);
      const i = this.key(this.items, r.itemId, s.itemId, s.insertItem, now, newItems);
      let t = totals.get(i);
      if (t === undefined) totals.set(i, (t = [0, 0]));
      if (s.insertRating.run(u, i, r.rating, r.timestamp).changes === 1) {
        inserted++;
        t[0]++;
        t[1] += r.rating;
      } else {
        const old = s.oldRating.get(u, i) as number;
        s.updateRating.run(r.rating, r.timestamp, u, i);
        updated++;
        t[1] += r.rating - old;
      }
    }
    for (const [i, [n, sum]] of totals) if (n !== 0 || sum !== 0) s.itemTotals.run(n, sum, i);
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
