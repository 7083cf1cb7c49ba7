import type { CheckpointMeta } from './checkpoint';
import type { RatingSummary } from './summary';
import type { ServingNet } from './engine';
import type { Ensemble } from './ensemble';
import { unitRows } from './vectors';

export type Fallback = null | 'item_mean' | 'user_mean' | 'global_mean' | 'popular';

/** How a prediction or a list was made: the user's trained row, a row folded in from their current ratings, or a fallback. */
export type Source = 'trained' | 'foldin' | 'fallback';

/**
 * How the caller wants one user served. `trained` (the default) uses the model's own row when
 * it has one; `folded` scores with a row from foldIn(); `none` serves the user as unknown
 * (a user erased or without ratings), whatever the model holds for the ID.
 */
export type UserView = { kind: 'trained' } | { kind: 'folded'; row: Float32Array } | { kind: 'none' };

const TRAINED: UserView = { kind: 'trained' };

export interface Prediction {
  userId: string;
  itemId: string;
  rating: number;
  fallback: Fallback;
  source: Source;
}

export interface ScoredItem {
  itemId: string;
  score: number;
  /** Set for an item the model does not know: scored from its folded-in row, or listed by a fallback. */
  source?: 'foldin' | 'fallback';
}

/**
 * An item the model does not know, folded in from its current ratings (see Predictor.foldInItem):
 * its row, and the mean of those ratings (the item-mean fallback for a user who cannot be scored).
 */
export interface FoldedItem {
  row: Float32Array;
  mean: number;
}

/**
 * What a predictor looks IDs up with, built elsewhere (in slices, or on another thread) so that
 * constructing one over a large catalogue does not hold the calling thread.
 */
export interface PredictorIndexes {
  users: Map<string, number>;
  items: Map<string, number>;
  /** Item indices by popularOrder(). */
  popular: ArrayLike<number> & Iterable<number>;
}

/** Popular and well rated first: the shrunk mean weighted by log popularity. */
export function popularOrder(s: RatingSummary): Int32Array {
  const score = Float64Array.from(s.itemMean, (m, k) => m * Math.log1p(s.itemCount[k]));
  return Int32Array.from(score, (_, k) => k).sort((a, b) => score[b] - score[a]);
}

/**
 * Serves one trained model: predictions for any pair of IDs (with a marked fallback when the
 * model has no latents for an ID), top-N lists and item neighbours. Immutable once built, so
 * requests that hold a reference finish on the model they started with.
 */
export class Predictor {
  private readonly users: Map<string, number>;
  private readonly items: Map<string, number>;
  private readonly popular: ArrayLike<number> & Iterable<number>;
  /** Model indexes of items deleted since the model was trained. */
  private readonly goneItems = new Set<number>();
  private itemUnit: { dim: number; unit: Float32Array } | null = null;
  private readonly net: ServingNet;
  // Scratch for predict(), which runs to completion on the JavaScript thread: reused, never shared across an await.
  private scratch = { u: new Int32Array(16), i: new Int32Array(16), y: new Float32Array(16) };

  constructor(
    readonly modelId: string,
    readonly meta: CheckpointMeta,
    readonly model: Ensemble,
    indexes?: PredictorIndexes,
  ) {
    this.net = model.prepare();
    this.users = indexes?.users ?? new Map(meta.userIds.map((id, k) => [id, k]));
    this.items = indexes?.items ?? new Map(meta.itemIds.map((id, k) => [id, k]));
    this.popular = indexes?.popular ?? popularOrder(meta.summary);
  }

  get itemCount(): number {
    return this.meta.itemIds.length;
  }

  private clip(v: number): number {
    const { min, max } = this.meta.scale;
    return Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : this.meta.summary.globalMean;
  }

  hasItem(itemId: string): boolean {
    return this.items.has(itemId);
  }

  hasUser(userId: string): boolean {
    return this.users.has(userId);
  }

  /**
   * Predictions for pairs; `views` says how to serve particular users (see UserView), the
   * others by their trained rows. Synchronous: folded-in rows are scored here, a few items each.
   */
  predict(
    pairs: readonly { userId: string; itemId: string }[],
    views?: ReadonlyMap<string, UserView>,
    foldedItems?: ReadonlyMap<string, FoldedItem>,
  ): Prediction[] {
    const n = pairs.length;
    const out = new Array<Prediction>(n);
    if (this.scratch.u.length < n) this.scratch = { u: new Int32Array(n), i: new Int32Array(n), y: new Float32Array(n) };
    const { u: uIdx, i: iIdx, y } = this.scratch;
    const s = this.meta.summary;
    // Pairs of folded-in users, grouped per user: positions in `out` and model item indexes.
    const folded = new Map<string, { row: Float32Array; at: number[]; items: number[] }>();
    let m = 0;
    for (let k = 0; k < n; k++) {
      const { userId, itemId } = pairs[k];
      const view = views?.get(userId) ?? TRAINED;
      const u = view.kind === 'trained' ? this.users.get(userId) : undefined;
      const i = this.items.get(itemId);
      const item = i === undefined ? foldedItems?.get(itemId) : undefined;
      if (item) {
        out[k] = this.predictFolded(userId, itemId, view.kind === 'folded' ? view.row : u, item);
      } else if (view.kind === 'folded' && i !== undefined) {
        out[k] = { userId, itemId, rating: 0, fallback: null, source: 'foldin' };
        let group = folded.get(userId);
        if (!group) folded.set(userId, (group = { row: view.row, at: [], items: [] }));
        group.at.push(k);
        group.items.push(i);
      } else if (u !== undefined && i !== undefined) {
        uIdx[m] = u;
        iIdx[m++] = i;
        out[k] = { userId, itemId, rating: 0, fallback: null, source: 'trained' };
      } else if (i !== undefined) {
        out[k] = { userId, itemId, rating: this.clip(s.itemMean[i]), fallback: 'item_mean', source: 'fallback' };
      } else if (u !== undefined) {
        out[k] = { userId, itemId, rating: this.clip(s.userMean[u]), fallback: 'user_mean', source: 'fallback' };
      } else {
        out[k] = { userId, itemId, rating: this.clip(s.globalMean), fallback: 'global_mean', source: 'fallback' };
      }
    }
    if (m > 0) {
      this.net.score(uIdx, iIdx, m, y);
      for (let k = 0, j = 0; k < n; k++) if (out[k].source === 'trained') out[k].rating = this.clip(y[j++]);
    }
    for (const { row, at, items } of folded.values()) {
      const ys = new Float32Array(items.length);
      this.net.scoreRow(row, Int32Array.from(items), items.length, ys);
      at.forEach((k, j) => (out[k].rating = this.clip(ys[j])));
    }
    return out;
  }

  /** A pair whose item is folded in: scored with the user's trained or folded-in row, or the item's mean when the user has neither. */
  private predictFolded(userId: string, itemId: string, user: number | Float32Array | undefined, item: FoldedItem): Prediction {
    if (user === undefined) return { userId, itemId, rating: this.clip(item.mean), fallback: 'item_mean', source: 'fallback' };
    const y = new Float32Array(1);
    this.model.scoreFolded(user, item.row, y);
    return { userId, itemId, rating: this.clip(y[0]), fallback: null, source: 'foldin' };
  }

  /**
   * A row for an item the model does not know, fitted to its ratings with the model frozen (see
   * TrainedMember.foldInItem), and the mean of those ratings. Ratings by users the model does not
   * know are left out of the fit; null when none is left or the fit is not finite.
   */
  async foldInItem(ratings: readonly { userId: string; rating: number }[]): Promise<FoldedItem | null> {
    const users: number[] = [];
    const values: number[] = [];
    let sum = 0;
    let count = 0;
    for (const r of ratings) {
      if (!Number.isFinite(r.rating)) continue;
      sum += r.rating;
      count++;
      const u = this.users.get(r.userId);
      if (u === undefined) continue;
      users.push(u);
      values.push(r.rating);
    }
    if (users.length === 0) return null;
    const row = await this.model.foldInItem(Int32Array.from(users), Float32Array.from(values));
    for (const v of row) if (!Number.isFinite(v)) return null;
    return { row, mean: sum / count };
  }

  /**
   * Folded-in items for one user (a trained index or a folded-in row), as list entries, less the
   * excluded ones and, given candidates, among those only.
   */
  private scoreFoldedItems(
    user: number | Float32Array,
    folded: ReadonlyMap<string, FoldedItem>,
    exclude: ReadonlySet<string>,
    candidates?: readonly string[],
  ): ScoredItem[] {
    const allowed = candidates ? new Set(candidates) : null;
    const ids = [...folded.keys()].filter((id) => !exclude.has(id) && !this.items.has(id) && (!allowed || allowed.has(id)));
    if (ids.length === 0) return [];
    const W = this.model.itemRowWidth;
    const rows = new Float32Array(ids.length * W);
    ids.forEach((id, k) => rows.set(folded.get(id)!.row, k * W));
    const y = new Float32Array(ids.length);
    this.model.scoreFolded(user, rows, y);
    return ids.map((itemId, k) => ({ itemId, score: this.clip(y[k]), source: 'foldin' as const }));
  }

  /**
   * A row for the user fitted to `ratings` with the model frozen (see TrainedMember.foldIn),
   * starting from their trained row if the model has one. Ratings of items the model does not
   * know are left out; null when none is left.
   */
  async foldIn(userId: string, ratings: readonly { itemId: string; rating: number }[]): Promise<Float32Array | null> {
    const items: number[] = [];
    const values: number[] = [];
    for (const r of ratings) {
      const i = this.items.get(r.itemId);
      if (i === undefined || !Number.isFinite(r.rating)) continue;
      items.push(i);
      values.push(r.rating);
    }
    if (items.length === 0) return null;
    const row = await this.model.foldIn(Int32Array.from(items), Float32Array.from(values), this.users.get(userId) ?? null);
    for (const v of row) if (!Number.isFinite(v)) return null;
    return row;
  }

  /** A deleted item: never predicted from its row again, never listed. */
  forgetItem(itemId: string): boolean {
    const i = this.items.get(itemId);
    if (i === undefined) return false;
    this.items.delete(itemId);
    this.goneItems.add(i);
    return true;
  }

  /** Erasure: the user's rows are zeroed and the ID is forgotten, so nothing trained on them is served again. */
  forgetUser(userId: string): boolean {
    const u = this.users.get(userId);
    if (u === undefined) return false;
    this.model.eraseUser(u);
    this.users.delete(userId);
    return true;
  }

  /**
   * The n best items for a user by predicted rating: their trained row, or the folded-in row of
   * `view`; null for a user the model does not know (or a view of `none`).
   */
  async topN(
    userId: string,
    n: number,
    exclude: ReadonlySet<string>,
    candidates?: readonly string[],
    view: UserView = TRAINED,
    folded?: ReadonlyMap<string, FoldedItem>,
  ): Promise<ScoredItem[] | null> {
    const u = view.kind === 'trained' ? this.users.get(userId) : undefined;
    if (view.kind === 'none' || (view.kind === 'trained' && u === undefined)) return null;
    const row = view.kind === 'folded' ? view.row : null;
    const ranked = await this.rankKnown(u, row, n, exclude, candidates);
    if (!folded || folded.size === 0) return ranked;
    // Items the model does not know, scored from their folded-in rows, take their places among the known ones.
    const extra = this.scoreFoldedItems(row ?? u!, folded, exclude, candidates);
    return extra.length === 0 ? ranked : [...ranked, ...extra].sort((a, b) => b.score - a.score).slice(0, n);
  }

  /** The n best items the model knows, for a trained user `u` or a folded-in `row`. */
  private async rankKnown(
    u: number | undefined,
    row: Float32Array | null,
    n: number,
    exclude: ReadonlySet<string>,
    candidates?: readonly string[],
  ): Promise<ScoredItem[]> {
    if (candidates) {
      const iIdx = this.indicesOf(candidates, exclude);
      const y = new Float32Array(iIdx.length);
      if (row) this.net.scoreRow(row, iIdx, iIdx.length, y);
      else await this.net.scoreUser(u!, iIdx, iIdx.length, y);
      return best(y, n).map((k) => ({ itemId: this.meta.itemIds[iIdx[k]], score: this.clip(y[k]) }));
    }
    // Scoring the whole catalogue in model order is cheaper than gathering all but a few items;
    // the excluded ones then drop out of the ranking.
    const y = new Float32Array(this.itemCount);
    if (row) await this.net.scoreRowAll(row, y);
    else await this.net.scoreAll(u!, y);
    let left = this.itemCount;
    const drop = (i: number) => {
      if (y[i] !== -Infinity) {
        y[i] = -Infinity;
        left--;
      }
    };
    for (const id of exclude) {
      const i = this.items.get(id);
      if (i !== undefined) drop(i);
    }
    for (const i of this.goneItems) drop(i);
    return best(y, Math.min(n, left)).map((k) => ({ itemId: this.meta.itemIds[k], score: this.clip(y[k]) }));
  }

  /** Model indices of the distinct candidates the model knows, less the excluded ones. */
  private indicesOf(candidates: readonly string[], exclude: ReadonlySet<string>): Int32Array {
    const out: number[] = [];
    for (const id of new Set(candidates)) {
      const i = this.items.get(id);
      if (i !== undefined && !exclude.has(id)) out.push(i);
    }
    return Int32Array.from(out);
  }

  /** Popular, well-rated items: the answer for users the model has never seen. */
  popularItems(n: number, exclude: ReadonlySet<string>, candidates?: readonly string[]): ScoredItem[] {
    const s = this.meta.summary;
    const allowed = candidates ? new Set(candidates) : null;
    const out: ScoredItem[] = [];
    for (const i of this.popular) {
      const id = this.meta.itemIds[i];
      if (exclude.has(id) || (allowed && !allowed.has(id)) || this.goneItems.has(i)) continue;
      out.push({ itemId: id, score: this.clip(s.itemMean[i]) });
      if (out.length >= n) break;
    }
    return out;
  }

  /**
   * Nearest items by cosine similarity of the learned item embeddings (see Ensemble.itemEmbedding),
   * less the excluded ones and, given candidates, among those only.
   */
  similar(itemId: string, n: number, exclude: ReadonlySet<string> = new Set(), candidates?: readonly string[]): ScoredItem[] | null {
    const i = this.items.get(itemId);
    if (i === undefined) return null;
    if (!this.itemUnit) {
      const { dim, data } = this.model.itemEmbedding();
      this.itemUnit = { dim, unit: unitRows(data, dim) };
    }
    const { dim: W, unit } = this.itemUnit;
    const pool = candidates ? this.indicesOf(candidates, exclude).filter((k) => k !== i) : null;
    const count = pool ? pool.length : this.itemCount;
    const sims = new Float32Array(count);
    for (let c = 0; c < count; c++) {
      const k = pool ? pool[c] : c;
      let dot = 0;
      for (let j = 0; j < W; j++) dot += unit[i * W + j] * unit[k * W + j];
      sims[c] = k === i || (!pool && exclude.has(this.meta.itemIds[k])) || this.goneItems.has(k) ? -Infinity : dot;
    }
    let left = count;
    for (let c = 0; c < count; c++) if (sims[c] === -Infinity) left--;
    return best(sims, Math.max(0, Math.min(n, left))).map((c) => {
      const k = pool ? pool[c] : c;
      return { itemId: this.meta.itemIds[k], score: sims[c] };
    });
  }
}

/** Positions of the n largest scores, best first. */
function best(scores: Float32Array, n: number): number[] {
  const count = scores.length;
  const byScore = (a: number, b: number) => scores[b] - scores[a];
  if (n >= count) return Array.from({ length: count }, (_, k) => k).sort(byScore);
  // Partial selection keeps a small sorted buffer instead of sorting the whole catalogue.
  const top: number[] = [];
  for (let k = 0; k < count; k++) {
    if (top.length < n) {
      top.push(k);
      if (top.length === n) top.sort(byScore);
    } else if (scores[k] > scores[top[n - 1]]) {
      let j = n - 1;
      while (j > 0 && scores[top[j - 1]] < scores[k]) {
        top[j] = top[j - 1];
        j--;
      }
      top[j] = k;
    }
  }
  return top.length < n ? top.sort(byScore) : top;
}
