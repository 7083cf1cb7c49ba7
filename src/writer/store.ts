import type { Database, Statement, Transaction } from 'better-sqlite3';
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
 * External ID → key, with the last hit kept aside: imports come grouped by user, so most
 * lookups repeat the previous one and skip the hash table.
 */
class KeyCache {
  private readonly map = new Map<string, number>();
  // IDs are never empty, so '' matches nothing.
  private lastExt = '';
  private lastId = 0;

  get(ext: string): number | undefined {
    if (ext === this.lastExt) return this.lastId;
    const id = this.map.get(ext);
    if (id !== undefined) {
      this.lastExt = ext;
      this.lastId = id;
    }
    return id;
  }

  set(ext: string, id: number): void {
    if (this.map.size >= CACHE_LIMIT) this.map.clear();
    this.map.set(ext, id);
  }

  delete(ext: string): void {
    this.map.delete(ext);
    if (ext === this.lastExt) this.lastExt = '';
  }

  clear(): void {
    this.map.clear();
    this.lastExt = '';
  }
}

/**
 * Per-item count and sum changes of one write, applied once per item at its end. Item keys are
 * dense row ids, so they index typed arrays (a hash map per row cost more than the insert).
 */
class ItemDeltas {
  private count = new Float64Array(1024);
  private sum = new Float64Array(1024);
  private readonly touched: number[] = [];

  add(item: number, count: number, sum: number): void {
    if (item >= this.count.length) {
      const size = Math.max(item + 1, this.count.length * 2);
      const grow = (a: Float64Array) => {
        const b = new Float64Array(size);
        b.set(a);
        return b;
      };
      this.count = grow(this.count);
      this.sum = grow(this.sum);
    }
    if (this.count[item] === 0 && this.sum[item] === 0) this.touched.push(item);
    this.count[item] += count;
    this.sum[item] += sum;
  }

  /** Calls `apply` for every item changed, then forgets the changes. */
  drain(apply: (item: number, count: number, sum: number) => void): void {
    for (const item of this.touched) {
      const count = this.count[item];
      const sum = this.sum[item];
      this.count[item] = 0;
      this.sum[item] = 0;
      if (count !== 0 || sum !== 0) apply(item, count, sum);
    }
    this.touched.length = 0;
  }

  /** Forgets the changes of a write that failed (its transaction rolled back). */
  discard(): void {
    this.drain(() => undefined);
  }
}

/**
 * The histogram bin of a rating (migration 006): round(rating × 2) with halves away from zero,
 * as SQLite's round() computes it (a double add, then truncation), so that the bins the writer
 * changes are the ones the migration filled.
 */
export function ratingBin(rating: number): number {
  const v = rating * 2;
  return Math.trunc(v + (v < 0 ? -0.5 : 0.5));
}

/** Changes to the rating histogram of one write, applied once per bin at its end. */
class BinDeltas {
  private readonly delta = new Map<number, number>();

  add(rating: number, count: number): void {
    const bin = ratingBin(rating);
    this.delta.set(bin, (this.delta.get(bin) ?? 0) + count);
  }

  /** Calls `apply` for every bin changed, then forgets the changes. */
  drain(apply: (bin: number, count: number) => void): void {
    for (const [bin, count] of this.delta) if (count !== 0) apply(bin, count);
    this.delta.clear();
  }

  discard(): void {
    this.delta.clear();
  }
}

/**
 * Every write to users, items and ratings, with the counters of migration 004 and the rating
 * histogram of migration 006 (meta
 * 'users'/'items'/'ratings', items.rating_count/rating_sum, rating_histogram) changed in the same
 * transaction.
 * One instance per process owns the writes: the writer thread in the server, the CLI alone.
 */
export class RatingsStore {
  private readonly s: Record<string, Statement>;
  // Keys of external IDs seen lately. Only this store inserts or deletes users and items on its
  // connection, so it keeps them current; a bulk load then looks each ID up once, not per batch.
  private readonly users = new KeyCache();
  private readonly items = new KeyCache();
  private readonly deltas = new ItemDeltas();
  private readonly bins = new BinDeltas();
  readonly upsertMany: Transaction<(rows: readonly RatingRow[]) => UpsertResult>;

  constructor(readonly db: Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      userId: p('SELECT id FROM users WHERE ext_id = ?').pluck(),
      itemId: p('SELECT id FROM items WHERE ext_id = ?').pluck(),
      insertUser: p('INSERT INTO users (ext_id, created_at) VALUES (?, ?)'),
      // The version this write commits at (the bump comes later in the same transaction): migration 007.
      insertItem: p(`INSERT INTO items (ext_id, created_at, created_version)
        VALUES (?, ?, (SELECT value FROM meta WHERE key = 'data_version') + 1)`),
      insertRating: p('INSERT OR IGNORE INTO ratings (user_id, item_id, rating, ts) VALUES (?, ?, ?, ?)'),
      insertChunk: p(`INSERT OR IGNORE INTO ratings (user_id, item_id, rating, ts) VALUES ${Array(CHUNK).fill('(?, ?, ?, ?)').join(', ')}`),
      savepoint: p('SAVEPOINT chunk'),
      release: p('RELEASE chunk'),
      rollbackTo: p('ROLLBACK TO chunk'),
      oldRating: p('SELECT rating FROM ratings WHERE user_id = ? AND item_id = ?').pluck(),
      updateRating: p('UPDATE ratings SET rating = ?, ts = ? WHERE user_id = ? AND item_id = ?'),
      // Run after the data_version bump of the same transaction: the item is marked changed at the new version (migration 007).
      itemTotals: p(`UPDATE items SET rating_count = rating_count + ?, rating_sum = rating_sum + ?,
        changed_version = (SELECT value FROM meta WHERE key = 'data_version') WHERE id = ?`),
      count: p('UPDATE meta SET value = value + ? WHERE key = ?'),
      binCount: p('INSERT INTO rating_histogram (bin, count) VALUES (?, ?) ON CONFLICT(bin) DO UPDATE SET count = count + excluded.count'),
      bump: p("UPDATE meta SET value = value + 1 WHERE key = 'data_version'"),
      touchUser: p("UPDATE users SET changed_version = (SELECT value FROM meta WHERE key = 'data_version') WHERE id = ?"),
      itemRaters: p('SELECT user_id, rating FROM ratings WHERE item_id = ?').raw(),
      deleteItemRatings: p('DELETE FROM ratings WHERE item_id = ?'),
      deleteItem: p('DELETE FROM items WHERE id = ?'),
      setHidden: p('UPDATE items SET hidden = ? WHERE ext_id = ?'),
      userRatings: p('SELECT item_id, rating FROM ratings WHERE user_id = ?').raw(),
      deleteUser: p('DELETE FROM users WHERE id = ?'),
      deleteUserRatings: p('DELETE FROM ratings WHERE user_id = ?'),
      deleteRating: p('DELETE FROM ratings WHERE user_id = ? AND item_id = ? RETURNING rating').pluck(),
      upsertItem: p(`INSERT INTO items (ext_id, title, attributes, created_at, created_version)
        VALUES (?, ?, ?, ?, (SELECT value FROM meta WHERE key = 'data_version') + 1)
        ON CONFLICT(ext_id) DO UPDATE SET title = excluded.title, attributes = excluded.attributes`),
    };
    this.upsertMany = db.transaction((rows: readonly RatingRow[]) => this.writeRows(rows));
  }

  private key(cache: KeyCache, ext: string, find: Statement, insert: Statement, now: number, created: { n: number }): number {
    let id = cache.get(ext);
    if (id !== undefined) return id;
    id = find.get(ext) as number | undefined;
    if (id === undefined) {
      id = Number(insert.run(ext, now).lastInsertRowid);
      created.n++;
    }
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
    const deltas = this.deltas;
    const bins = this.bins;
    const add = (item: number, count: number, sum: number) => deltas.add(item, count, sum);
    let inserted = 0;
    let updated = 0;
    const one = (k: number) => {
      const r = rows[k];
      if (s.insertRating.run(u[k], i[k], r.rating, r.timestamp).changes === 1) {
        inserted++;
        add(i[k], 1, r.rating);
        bins.add(r.rating, 1);
      } else {
        const old = s.oldRating.get(u[k], i[k]) as number;
        s.updateRating.run(r.rating, r.timestamp, u[k], i[k]);
        updated++;
        add(i[k], 0, r.rating - old);
        bins.add(old, -1);
        bins.add(r.rating, 1);
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
        for (let j = 0; j < CHUNK; j++) {
          add(i[k + j], 1, rows[k + j].rating);
          bins.add(rows[k + j].rating, 1);
        }
      } else {
        s.rollbackTo.run();
        s.release.run();
        for (let j = 0; j < CHUNK; j++) one(k + j);
      }
    }
    for (; k < n; k++) one(k);
    bins.drain((bin, count) => s.binCount.run(bin, count));
    this.addCounts(newUsers.n, newItems.n, inserted);
    deltas.drain((item, count, sum) => s.itemTotals.run(count, sum, item));
    // Every user written is marked changed at the new data_version. Rows come grouped by user
    // in imports, so comparing with the previous key skips nearly every repeat.
    const touched = new Set<number>();
    for (let j = 0, prev = -1; j < n; j++) {
      if (u[j] !== prev) touched.add((prev = u[j]));
    }
    for (const user of touched) s.touchUser.run(user);
    return { inserted, updated };
  }

  private addCounts(users: number, items: number, ratings: number): void {
    if (users !== 0) this.s.count.run(users, 'users');
    if (items !== 0) this.s.count.run(items, 'items');
    if (ratings !== 0) this.s.count.run(ratings, 'ratings');
    this.s.bump.run();
  }

  /** Drops the key caches and pending item changes: after a rolled-back transaction they may hold keys that were never committed. */
  forgetKeys(): void {
    this.users.clear();
    this.items.clear();
    this.deltas.discard();
    this.bins.discard();
  }

  deleteUser(userId: string): boolean {
    return this.writeTransaction(() => {
      const u = this.s.userId.get(userId) as number | undefined;
      if (u === undefined) return false;
      const rated = this.s.userRatings.all(u) as [number, number][];
      for (const [, rating] of rated) this.bins.add(rating, -1);
      this.bins.drain((bin, count) => this.s.binCount.run(bin, count));
      // Explicitly rather than by ON DELETE CASCADE: the writing connection runs without
      // foreign-key checks (see tuning.ts).
      this.s.deleteUserRatings.run(u);
      this.s.deleteUser.run(u);
      this.users.delete(userId);
      this.addCounts(-1, 0, -rated.length);
      // The items they rated lose a rating: marked changed at the new version.
      for (const [i, rating] of rated) this.s.itemTotals.run(-1, -rating, i);
      return true;
    });
  }

  deleteRating(userId: string, itemId: string): boolean {
    return this.writeTransaction(() => {
      const u = this.s.userId.get(userId) as number | undefined;
      const i = this.s.itemId.get(itemId) as number | undefined;
      if (u === undefined || i === undefined) return false;
      const old = this.s.deleteRating.get(u, i) as number | undefined;
      if (old === undefined) return false;
      this.s.binCount.run(ratingBin(old), -1);
      this.addCounts(0, 0, -1);
      this.s.itemTotals.run(-1, -old, i);
      this.s.touchUser.run(u);
      return true;
    });
  }

  /** Creates or replaces an item's metadata (`hidden` undefined keeps the flag as it is); returns whether the item is new. */
  putItem(itemId: string, title: string | null, attributes: Record<string, unknown> | null, hidden?: boolean): boolean {
    return this.writeTransaction(() => {
      const existed = this.s.itemId.get(itemId) !== undefined;
      this.s.upsertItem.run(itemId, title, attributes === null ? null : JSON.stringify(attributes), Date.now());
      if (hidden !== undefined) this.s.setHidden.run(hidden ? 1 : 0, itemId);
      if (!existed) this.s.count.run(1, 'items');
      return !existed;
    });
  }

  /**
   * Removes an item and every rating of it; the users who rated it are marked changed. Ratings
   * have no index by item (migration 004), so this reads the table once: an operator's rare
   * action, in the writer thread.
   */
  deleteItem(itemId: string): boolean {
    return this.writeTransaction(() => {
      const i = this.s.itemId.get(itemId) as number | undefined;
      if (i === undefined) return false;
      const raters = this.s.itemRaters.all(i) as [number, number][];
      for (const [, rating] of raters) this.bins.add(rating, -1);
      this.bins.drain((bin, count) => this.s.binCount.run(bin, count));
      this.s.deleteItemRatings.run(i);
      this.s.deleteItem.run(i);
      this.items.delete(itemId);
      this.addCounts(0, -1, -raters.length);
      for (const [u] of raters) this.s.touchUser.run(u);
      return true;
    });
  }

  /** Upserts rows in one transaction. */
  upsert(rows: readonly RatingRow[]): UpsertResult {
    return this.guarded(() => this.upsertMany.immediate(rows));
  }

  /**
   * Runs `fn` in one write transaction. It begins IMMEDIATE: a deferred one that read first
   * could not take the write lock after another connection (the jobs' progress) committed
   * meanwhile (SQLITE_BUSY_SNAPSHOT, which no busy timeout retries).
   */
  writeTransaction<T>(fn: () => T): T {
    return this.guarded(() => this.db.transaction(fn).immediate());
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
