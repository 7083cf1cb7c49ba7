import type { FastifyBaseLogger } from 'fastify';
import { FoldInUnavailableError } from '../engine/member';
import type { Predictor, Source, UserView } from '../engine/predictor';

/** What the live layer reads of the store: a user's last change and their latest ratings. */
export interface LiveStore {
  userChangedVersion(userId: string): number | null;
  foldInRatings(userId: string): { itemId: string; rating: number }[];
}

/** Users kept folded in per model; the least recently used are dropped beyond this. */
const CACHE_LIMIT = 20_000;

interface Entry {
  modelId: string;
  version: number;
  row: Promise<Float32Array | null>;
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
  private readonly cache = new Map<string, Entry>();
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
    let entry = this.cache.get(userId);
    if (!entry || entry.modelId !== model.modelId || entry.version !== version) {
      entry = { modelId: model.modelId, version, row: this.foldIn(model, userId) };
    }
    // Re-inserted: the Map's order is the order of use.
    this.cache.delete(userId);
    this.cache.set(userId, entry);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    const row = await entry.row;
    if (row) return { view: { kind: 'folded', row }, source: 'foldin' };
    // No rating of an item the model knows, or no kernel to fold in with: a known user keeps the trained row.
    return model.hasUser(userId) ? { view: { kind: 'trained' }, source: 'trained' } : { view: { kind: 'none' }, source: 'fallback' };
  }

  /** The views of several users at once (a batch of predictions). */
  async views(model: Predictor, userIds: Iterable<string>): Promise<Map<string, LiveView>> {
    const out = new Map<string, LiveView>();
    for (const id of new Set(userIds)) out.set(id, await this.view(model, id));
    return out;
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
