import type { Database, Statement } from 'better-sqlite3';

export interface ItemInfo {
  itemId: string;
  title: string | null;
  attributes: Record<string, unknown> | null;
  hidden: boolean;
  ratingCount: number;
  ratingMean: number | null;
}

/** Most ratings a fold-in reads for one user: the latest ones (a user with more is served from these). */
export const FOLD_IN_MAX_RATINGS = 2000;

export interface StoredRating {
  itemId: string;
  rating: number;
  timestamp: number | null;
}

/**
 * The request thread's reads of users, items and ratings, with statements prepared once.
 * Every write goes through the writer thread (src/writer); this connection only reads, so
 * WAL lets it answer while a write or an import is committing.
 */
export class RatingsRepository {
  private readonly s: Record<string, Statement>;
  private readonly histogramRead: () => { ratings: number; dataVersion: number; bins: [number, number][] };

  constructor(readonly db: Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      userId: p('SELECT id FROM users WHERE ext_id = ?'),
      version: p("SELECT value FROM meta WHERE key = 'data_version'"),
      userRatings: p(`SELECT i.ext_id AS itemId, r.rating AS rating, r.ts AS timestamp
        FROM ratings r JOIN items i ON i.id = r.item_id WHERE r.user_id = ? ORDER BY i.ext_id LIMIT ? OFFSET ?`),
      userRatingCount: p('SELECT COUNT(*) AS n FROM ratings WHERE user_id = ?'),
      userRatedItems: p('SELECT i.ext_id FROM ratings r JOIN items i ON i.id = r.item_id WHERE r.user_id = ?').pluck(),
      item: p('SELECT ext_id, title, attributes, hidden, rating_count, rating_sum FROM items WHERE ext_id = ?'),
      userState: p('SELECT changed_version FROM users WHERE ext_id = ?').pluck(),
      foldInRatings: p(`SELECT i.ext_id, r.rating FROM ratings r JOIN items i ON i.id = r.item_id
        WHERE r.user_id = (SELECT id FROM users WHERE ext_id = ?) ORDER BY r.ts DESC LIMIT ?`).raw(),
      itemState: p('SELECT changed_version FROM items WHERE ext_id = ?').pluck(),
      // Users changed since a version, or since the item was created if that is later
      // (users_by_changed, migration 007), then one lookup of the primary key (user, item) each:
      // the item's raters among them, without an index of ratings by item.
      itemFoldInRatings: p(`SELECT u.ext_id, r.rating FROM items i
        JOIN users u ON u.changed_version > max(?, i.created_version - 1)
        JOIN ratings r ON r.user_id = u.id AND r.item_id = i.id
        WHERE i.ext_id = ? LIMIT ?`).raw(),
      changedItems: p('SELECT ext_id FROM items WHERE changed_version > ? AND rating_count > 0 ORDER BY changed_version DESC LIMIT ?').pluck(),
      catalogue: p('SELECT ext_id, attributes, hidden FROM items WHERE hidden = 1 OR attributes IS NOT NULL').raw(),
      counts: p("SELECT key, value FROM meta WHERE key IN ('users', 'items', 'ratings')").raw(),
      histogram: p('SELECT bin, count FROM rating_histogram WHERE count > 0 ORDER BY bin').raw(),
    };
    this.histogramRead = db.transaction(() => ({
      ratings: this.stats().ratings,
      dataVersion: this.dataVersion(),
      bins: this.s.histogram.all() as [number, number][],
    }));
  }

  /**
   * The rating histogram kept by the writer (migration 006: half-star bins), with the rating count
   * and data version read in the same transaction, so they agree. One row per bin in use.
   */
  ratingHistogram(): { ratings: number; dataVersion: number; bins: { rating: number; count: number }[] } {
    const { ratings, dataVersion, bins } = this.histogramRead();
    return { ratings, dataVersion, bins: bins.map(([bin, count]) => ({ rating: bin / 2, count })) };
  }

  dataVersion(): number {
    return (this.s.version.get() as { value: number }).value;
  }

  private userKey(userId: string): number | undefined {
    return (this.s.userId.get(userId) as { id: number } | undefined)?.id;
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

  item(itemId: string): ItemInfo | null {
    const row = this.s.item.get(itemId) as
      { ext_id: string; title: string | null; attributes: string | null; hidden: number; rating_count: number; rating_sum: number } | undefined;
    if (!row) return null;
    return {
      itemId: row.ext_id,
      title: row.title,
      attributes: row.attributes === null ? null : (JSON.parse(row.attributes) as Record<string, unknown>),
      hidden: row.hidden === 1,
      ratingCount: row.rating_count,
      ratingMean: row.rating_count > 0 ? row.rating_sum / row.rating_count : null,
    };
  }

  /** The data_version of the last change to the user's ratings, or null for a user not stored (never, or erased). */
  userChangedVersion(userId: string): number | null {
    return (this.s.userState.get(userId) as number | undefined) ?? null;
  }

  /** A user's latest ratings (at most `limit`), for fold-in: one range of the primary key. */
  foldInRatings(userId: string, limit = FOLD_IN_MAX_RATINGS): { itemId: string; rating: number }[] {
    return (this.s.foldInRatings.all(userId, limit) as [string, number][]).map(([itemId, rating]) => ({ itemId, rating }));
  }

  /** The data_version of the last change to the item's ratings (migration 007), or null for an item not stored. */
  itemChangedVersion(itemId: string): number | null {
    return (this.s.itemState.get(itemId) as number | undefined) ?? null;
  }

  /**
   * An item's ratings by users whose ratings changed after data version `since` (at most
   * `limit`): for an item created after a model's snapshot, every rating it has. Reads the users
   * changed since then (or since the item was created, if later), not the ratings table.
   */
  itemFoldInRatings(itemId: string, since: number, limit = FOLD_IN_MAX_RATINGS): { userId: string; rating: number }[] {
    return (this.s.itemFoldInRatings.all(since, itemId, limit) as [string, number][]).map(([userId, rating]) => ({ userId, rating }));
  }

  /** Items with ratings whose ratings changed after data version `since`, the latest first (at most `limit`); one pass over the items table. */
  changedItems(since: number, limit: number): string[] {
    return this.s.changedItems.all(since, limit) as string[];
  }

  /** Items that are hidden or have attributes, read once at start-up to build the in-memory catalogue. */
  catalogueRows(): { itemId: string; attributes: Record<string, unknown> | null; hidden: boolean }[] {
    return (this.s.catalogue.all() as [string, string | null, number][]).map(([itemId, attributes, hidden]) => ({
      itemId,
      attributes: attributes === null ? null : (JSON.parse(attributes) as Record<string, unknown>),
      hidden: hidden === 1,
    }));
  }

  /** Counts kept by the writer (migration 004): three rows read, whatever the size of the store. */
  stats(): { users: number; items: number; ratings: number } {
    const out = { users: 0, items: 0, ratings: 0 };
    for (const [key, value] of this.s.counts.all() as [keyof typeof out, number][]) out[key] = value;
    return out;
  }
}
