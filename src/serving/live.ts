import type { FastifyBaseLogger } from 'fastify';
import { FoldInUnavailableError } from '../engine/member';
import type { FoldedItem, Predictor, Source, UserView } from '../engine/predictor';

/** What the live layer reads of the store: a user's last change and their latest ratings. */
export interface LiveStore {
  userChangedVersion(userId: string): number | null;
  foldInRatings(userId: string): { itemId: string; rating: number }[];
}

/** Users kept folded in per model; the least recently used are dropped beyond this. */
const CACHE_LIMIT = 20_000;

/** A fold-in cached for one model and one version of the ratings it was fitted to. */
interface Entry<T> {
  modelId: string;
  version: number;
  value: Promise<T>;
}

/**
 * The cached fold-in for `key`, computed again when the model or the version differ, in a map
 * kept in order of use (re-inserted on every use) of at most `limit` entries.
 */
function cached<T>(
  cache: Map<string, Entry<T>>,
  key: string,
  modelId: string,
  version: number,
  limit: number,
  compute: () => Promise<T>,
): Promise<T> {
  let entry = cache.get(key);
  if (!entry || entry.modelId !== modelId || entry.version !== version) entry = { modelId, version, value: compute() };
  cache.delete(key);
  cache.set(key, entry);
  if (cache.size > limit) cache.delete(cache.keys().next().value as string);
  return entry.value;
}

export interface LiveView {
  view: UserView;
  /** How the user's predictions are made: trained row, folded-in row, or fallback. */
  source: Source;
}

/**
 * Decides how each user is served by the active model, from the store as it is now:
 * - a user not in the store (never seen, or erased) is served as unknown, whatever the model holds;
 * - a user the model knows whose ratings have not changed since its snapshot, by the trained row;
 * - anyone else with ratings, by a row folded in from their current ratings (cached per user
 *   and model, and computed again when their ratings change: the cache is keyed on the version
 *   of their last change).
 */
export class LiveUsers {
  private readonly cache = new Map<string, Entry<Float32Array | null>>();
  private readonly log: FastifyBaseLogger;

  constructor(
    private readonly store: LiveStore,
    /** The data_version of the snapshot a model was trained on (null: unknown). */
    private readonly modelDataVersion: (modelId: string) => number | null,
    log: FastifyBaseLogger,
  ) {
    this.log = log.child({ component: 'fold-in' });
  }

  async view(model: Predictor, userId: string): Promise<LiveView> {
    const version = this.store.userChangedVersion(userId);
    if (version === null) return { view: { kind: 'none' }, source: 'fallback' };
    const trainedAt = this.modelDataVersion(model.modelId);
    if (model.hasUser(userId) && trainedAt !== null && version <= trainedAt) return { view: { kind: 'trained' }, source: 'trained' };
    const row = await cached(this.cache, userId, model.modelId, version, CACHE_LIMIT, () => this.foldIn(model, userId));
    if (row) return { view: { kind: 'folded', row }, source: 'foldin' };
    // No rating of an item the model knows, or no kernel to fold in with: a known user keeps the trained row.
    return model.hasUser(userId) ? { view: { kind: 'trained' }, source: 'trained' } : { view: { kind: 'none' }, source: 'fallback' };
  }

  /** How each of several users is served (a batch of predictions, which carry their own source). */
  async views(model: Predictor, userIds: Iterable<string>): Promise<Map<string, UserView>> {
    const ids = [...new Set(userIds)];
    const views = await Promise.all(ids.map(async (id) => (await this.view(model, id)).view));
    return new Map(ids.map((id, k) => [id, views[k]]));
  }

  private async foldIn(model: Predictor, userId: string): Promise<Float32Array | null> {
    try {
      return await model.foldIn(userId, this.store.foldInRatings(userId));
    } catch (err) {
      if (!(err instanceof FoldInUnavailableError)) this.log.error({ err, userId }, 'fold-in failed; the user is served by a fallback');
      return null;
    }
  }

  /** Drops what is cached for a user (erasure). */
  forget(userId: string): void {
    this.cache.delete(userId);
  }
}

/** What the item side of the live layer reads of the store (migration 007). */
export interface LiveItemStore {
  itemChangedVersion(itemId: string): number | null;
  itemFoldInRatings(itemId: string, since: number): { userId: string; rating: number }[];
  changedItems(since: number, limit: number): string[];
  dataVersion(): number;
}

/** Items kept folded in; the least recently used are dropped beyond this. */
const ITEM_CACHE_LIMIT = 20_000;
/** Most items the model does not know that a full personal list considers: the latest changed. */
export const NEW_ITEMS_LIMIT = 200;
/** After a write, how long the list of those items may still be reused before the items table is read again. */
const NEW_ITEMS_TTL_MS = 1000;

/**
 * The item side of fold-in. An item the active model does not know, but which has ratings by
 * users it knows, is served by a row fitted to those ratings with the model frozen (see
 * Predictor.foldInItem), cached per item and model and fitted again when the item's ratings
 * change (the cache is keyed on the version of their last change, items.changed_version). Items
 * the model knows keep their trained rows, even when their ratings changed since.
 */
export class LiveItems {
  private readonly cache = new Map<string, Entry<FoldedItem | null>>();
  private newItems: { modelId: string; at: number; dataVersion: number; ids: string[] } | null = null;
  private readonly log: FastifyBaseLogger;

  constructor(
    private readonly store: LiveItemStore,
    private readonly modelDataVersion: (modelId: string) => number | null,
    log: FastifyBaseLogger,
  ) {
    this.log = log.child({ component: 'item-fold-in' });
  }

  /** The folded-in item, or null for an item the model knows, one not stored, or one that cannot be folded in. */
  async item(model: Predictor, itemId: string): Promise<FoldedItem | null> {
    if (model.hasItem(itemId)) return null;
    const version = this.store.itemChangedVersion(itemId);
    if (version === null) return null;
    const folded = await cached(this.cache, itemId, model.modelId, version, ITEM_CACHE_LIMIT, () => this.foldIn(model, itemId));
    // Folded in here first (a prediction, a rerank): the full lists have it at once too.
    const recent = this.newItems;
    if (folded && recent?.modelId === model.modelId && recent.ids.length < NEW_ITEMS_LIMIT && !recent.ids.includes(itemId)) recent.ids.push(itemId);
    return folded;
  }

  /** The folded-in items among several (those the model does not know and that could be folded in). */
  async items(model: Predictor, itemIds: Iterable<string>): Promise<Map<string, FoldedItem>> {
    const ids = [...new Set(itemIds)].filter((id) => !model.hasItem(id));
    const folded = await Promise.all(ids.map((id) => this.item(model, id)));
    const out = new Map<string, FoldedItem>();
    ids.forEach((id, k) => {
      const f = folded[k];
      if (f) out.set(id, f);
    });
    return out;
  }

  /**
   * Items the model does not know whose ratings changed since its snapshot (the latest
   * NEW_ITEMS_LIMIT), folded in: what a full personal list ranks besides the model's catalogue.
   * The list of IDs is read from the items table again after a write, at most once a second
   * (an item folded in meanwhile by a prediction or a rerank joins it at once).
   */
  async recent(model: Predictor): Promise<Map<string, FoldedItem>> {
    const now = Date.now();
    const dataVersion = this.store.dataVersion();
    const last = this.newItems;
    const stale = !last || last.modelId !== model.modelId || (last.dataVersion !== dataVersion && now - last.at > NEW_ITEMS_TTL_MS);
    if (stale) {
      const since = this.modelDataVersion(model.modelId) ?? -1;
      const ids = this.store.changedItems(since, NEW_ITEMS_LIMIT + 64).filter((id) => !model.hasItem(id));
      this.newItems = { modelId: model.modelId, at: now, dataVersion, ids: ids.slice(0, NEW_ITEMS_LIMIT) };
    }
    return this.items(model, this.newItems!.ids);
  }

  private async foldIn(model: Predictor, itemId: string): Promise<FoldedItem | null> {
    try {
      // Every rating written after the model's snapshot marked its user changed after it.
      const since = this.modelDataVersion(model.modelId) ?? -1;
      return await model.foldInItem(this.store.itemFoldInRatings(itemId, since));
    } catch (err) {
      if (!(err instanceof FoldInUnavailableError)) this.log.error({ err, itemId }, 'item fold-in failed; the item is served by a fallback');
      return null;
    }
  }

  /** Drops what is cached for an item (deletion). */
  forget(itemId: string): void {
    this.cache.delete(itemId);
    this.newItems = null;
  }
}
