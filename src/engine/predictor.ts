import type { CheckpointMeta } from './checkpoint';
import type { RatingSummary } from './summary';
import type { ServingNet } from './engine';
import type { Ensemble } from './ensemble';
import { unitRows } from './vectors';

export type Fallback = null | 'item_mean' | 'user_mean' | 'global_mean' | 'popular';

export interface Prediction {
  userId: string;
  itemId: string;
  rating: number;
  fallback: Fallback;
}

export interface ScoredItem {
  itemId: string;
  score: number;
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

  predict(pairs: readonly { userId: string; itemId: string }[]): Prediction[] {
    const n = pairs.length;
    const out = new Array<Prediction>(n);
    if (this.scratch.u.length < n) this.scratch = { u: new Int32Array(n), i: new Int32Array(n), y: new Float32Array(n) };
    const { u: uIdx, i: iIdx, y } = this.scratch;
    const s = this.meta.summary;
    let m = 0;
    for (let k = 0; k < n; k++) {
      const { userId, itemId } = pairs[k];
      const u = this.users.get(userId);
      const i = this.items.get(itemId);
      if (u !== undefined && i !== undefined) {
        uIdx[m] = u;
        iIdx[m++] = i;
        out[k] = { userId, itemId, rating: 0, fallback: null };
      } else if (i !== undefined) {
        out[k] = { userId, itemId, rating: this.clip(s.itemMean[i]), fallback: 'item_mean' };
      } else if (u !== undefined) {
        out[k] = { userId, itemId, rating: this.clip(s.userMean[u]), fallback: 'user_mean' };
      } else {
        out[k] = { userId, itemId, rating: this.clip(s.globalMean), fallback: 'global_mean' };
      }
    }
    if (m > 0) {
      this.net.score(uIdx, iIdx, m, y);
      for (let k = 0, j = 0; k < n; k++) if (out[k].fallback === null) out[k].rating = this.clip(y[j++]);
    }
    return out;
  }

  /** The n best items for a known user by predicted rating; null for a user the model does not know. */
  async topN(userId: string, n: number, exclude: ReadonlySet<string>, candidates?: readonly string[]): Promise<ScoredItem[] | null> {
    const u = this.users.get(userId);
    if (u === undefined) return null;
    if (candidates) {
      const iIdx = this.indicesOf(candidates, exclude);
      const y = new Float32Array(iIdx.length);
      await this.net.scoreUser(u, iIdx, iIdx.length, y);
      return best(y, n).map((k) => ({ itemId: this.meta.itemIds[iIdx[k]], score: this.clip(y[k]) }));
    }
    // Scoring the whole catalogue in model order is cheaper than gathering all but a few items;
    // the excluded ones then drop out of the ranking.
    const y = new Float32Array(this.itemCount);
    await this.net.scoreAll(u, y);
    let left = this.itemCount;
    for (const id of exclude) {
      const i = this.items.get(id);
      if (i !== undefined && y[i] !== -Infinity) {
        y[i] = -Infinity;
        left--;
      }
    }
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
      if (exclude.has(id) || (allowed && !allowed.has(id))) continue;
      out.push({ itemId: id, score: this.clip(s.itemMean[i]) });
      if (out.length >= n) break;
    }
    return out;
  }

  /** Nearest items by cosine similarity of the learned item embeddings (see Ensemble.itemEmbedding). */
  similar(itemId: string, n: number): ScoredItem[] | null {
    const i = this.items.get(itemId);
    if (i === undefined) return null;
    if (!this.itemUnit) {
      const { dim, data } = this.model.itemEmbedding();
      this.itemUnit = { dim, unit: unitRows(data, dim) };
    }
    const { dim: W, unit } = this.itemUnit;
    const sims = new Float32Array(this.itemCount);
    for (let k = 0; k < this.itemCount; k++) {
      let dot = 0;
      for (let j = 0; j < W; j++) dot += unit[i * W + j] * unit[k * W + j];
      sims[k] = k === i ? -Infinity : dot;
    }
    return best(sims, Math.min(n, this.itemCount - 1)).map((k) => ({ itemId: this.meta.itemIds[k], score: sims[k] }));
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
