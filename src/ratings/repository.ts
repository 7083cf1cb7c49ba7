import type { Database, Statement } from 'better-sqlite3';
import type { RatingRow } from './validate';

export interface UpsertResult {
  inserted: number;
  updated: number;
}

export interface ItemInfo {
  itemId: string;
  title: string | null;
  attributes: Record<string, unknown> | null;
  ratingCount: number;
  ratingMean: number | null;
}

export interface StoredRating {
  itemId: string;
  rating: number;
  timestamp: number | null;
}

/** All reads and writes of users, items and ratings, with statements prepared once. */
export class RatingsRepository {
  private readonly s: Record<string, Statement>;
  readonly upsertMany: (rows: readonly RatingRow[]) => UpsertResult;

  constructor(readonly db: Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      userId: p('SELECT id FROM users WHERE ext_id = ?'),
      itemId: p('SELECT id FROM items WHERE ext_id = ?'),
      insertUser: p('INSERT INTO users (ext_id, created_at) VALUES (?, ?)'),
      insertItem: p('INSERT INTO items (ext_id, created_at) VALUES (?, ?)'),
      insertRating: p('INSERT OR IGNORE INTO ratings (user_id, item_id, rating, ts) VALUES (?, ?, ?, ?)'),
      updateRating: p('UPDATE ratings SET rating = ?, ts = ? WHERE user_id = ? AND item_id = ?'),
      bump: p("UPDATE meta SET value = value + 1 WHERE key = 'data_version'"),
      version: p("SELECT value FROM meta WHERE key = 'data_version'"),
      userRatings: p(`SELECT i.ext_id AS itemId, r.rating AS rating, r.ts AS timestamp
        FROM ratings r JOIN items i ON i.id = r.item_id WHERE r.user_id = ? ORDER BY i.ext_id LIMIT ? OFFSET ?`),
      userRatingCount: p('SELECT COUNT(*) AS n FROM ratings WHERE user_id = ?'),
      userRatedItems: p('SELECT i.ext_id FROM ratings r JOIN items i ON i.id = r.item_id WHERE r.user_id = ?').pluck(),
      deleteUser: p('DELETE FROM users WHERE id = ?'),
      deleteRating: p('DELETE FROM ratings WHERE user_id = ? AND item_id = ?'),
      item: p('SELECT id, ext_id, title, attributes FROM items WHERE ext_id = ?'),
      itemStats: p('SELECT COUNT(*) AS n, AVG(rating) AS mean FROM ratings WHERE item_id = ?'),
      upsertItem: p(`INSERT INTO items (ext_id, title, attributes, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(ext_id) DO UPDATE SET title = excluded.title, attributes = excluded.attributes`),
      countUsers: p('SELECT COUNT(*) AS n FROM users'),
      countItems: p('SELECT COUNT(*) AS n FROM items'),
      countRatings: p('SELECT COUNT(*) AS n FROM ratings'),
    };
    this.upsertMany = db.transaction((rows: readonly RatingRow[]) => this.writeRows(rows));
  }

  /** Writes rows inside the caller's transaction; IDs seen in this call are looked up once. */
  writeRows(rows: readonly RatingRow[]): UpsertResult {
    const now = Date.now();
    const users = new Map<string, number | bigint>();
    const items = new Map<string, number | bigint>();
    const key = (cache: Map<string, number | bigint>, ext: string, find: Statement, insert: Statement) => {
      let id = cache.get(ext);
      if (id === undefined) {
        const row = find.get(ext) as { id: number } | undefined;
        id = row ? row.id : insert.run(ext, now).lastInsertRowid;
        cache.set(ext, id);
      }
      return id;
    };
    let inserted = 0;
    let updated = 0;
    for (const r of rows) {
      const u = key(users, r.userId, this.s.userId, this.s.insertUser);
      const i = key(items, r.itemId, this.s.itemId, this.s.insertItem);
      if (this.s.insertRating.run(u, i, r.rating, r.timestamp).changes === 1) inserted++;
      else {
        this.s.updateRating.run(r.rating, r.timestamp, u, i);
        updated++;
      }
    }
    if (rows.length) this.s.bump.run();
    return { inserted, updated };
  }

  dataVersion(): number {
    return (this.s.version.get() as { value: number }).value;
  }

  private userKey(userId: string): number | undefined {
    return (this.s.userId.get(userId) as { id: number } | undefined)?.id;
  }

  private itemKey(itemId: string): number | undefined {
    return (this.s.itemId.get(itemId) as { id: number } | undefined)?.id;
  }

  userRatings(userId: string, limit: number, offset: number): { total: number; ratings: StoredRating[] } | null {
    const u = this.userKey(userId);
    if (u === undefined) return null;
    const total = (this.s.userRatingCount.get(u) as { n: number }).n;
    return { total, ratings: this.s.userRatings.all(u, limit, offset) as StoredRating[] };
  }

  userRatedItems(userId: string): string[] {
    const u = this.userKey(userId);
    if (u === undefined) return [];
    return this.s.userRatedItems.all(u) as string[];
  }

  deleteUser(userId: string): boolean {
    return this.db.transaction(() => {
      const u = this.userKey(userId);
      if (u === undefined) return false;
      this.s.deleteUser.run(u);
      this.s.bump.run();
      return true;
    })();
  }

  deleteRating(userId: string, itemId: string): boolean {
    return this.db.transaction(() => {
      const u = this.userKey(userId);
      const i = this.itemKey(itemId);
      if (u === undefined || i === undefined) return false;
      const removed = this.s.deleteRating.run(u, i).changes === 1;
      if (removed) this.s.bump.run();
      return removed;
    })();
  }

  item(itemId: string): ItemInfo | null {
    const row = this.s.item.get(itemId) as
      | { id: number; ext_id: string; title: string | null; attributes: string | null }
      | undefined;
    if (!row) return null;
    const st = this.s.itemStats.get(row.id) as { n: number; mean: number | null };
    return {
      itemId: row.ext_id,
      title: row.title,
      attributes: row.attributes === null ? null : (JSON.parse(row.attributes) as Record<string, unknown>),
      ratingCount: st.n,
      ratingMean: st.mean,
    };
  }

  /** Creates or replaces an item's metadata; returns whether the item is new. */
  putItem(itemId: string, title: string | null, attributes: Record<string, unknown> | null): boolean {
    return this.db.transaction(() => {
      const existed = this.itemKey(itemId) !== undefined;
      this.s.upsertItem.run(itemId, title, attributes === null ? null : JSON.stringify(attributes), Date.now());
      return !existed;
    })();
  }

  stats(): { users: number; items: number; ratings: number } {
    const n = (s: Statement) => (s.get() as { n: number }).n;
    return { users: n(this.s.countUsers), items: n(this.s.countItems), ratings: n(this.s.countRatings) };
  }
}
