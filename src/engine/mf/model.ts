import type { ServingNet } from '../engine';
import { MemberBase, oneUserRowScoring, ridgeDesign, zeroRow, type MemberDims, type TrainedMember } from '../member';
import { solveRidge } from '../ridge';
import { Rng } from '../rng';
import { saveMfLayers } from './layers';
import { loadMfAddon } from './native';
import { portableScore, portableServing } from './portable';

/**
 * Parameters of a biased MF model: prediction = mean + b_u + b_i + p_u·q_i. Rows of `users`
 * and `items` are [factors (k) | bias], the layout the kernel reads.
 */
export interface MfParams extends MemberDims {
  k: number;
  mean: number;
  users: Float32Array;
  items: Float32Array;
}

/** Optimiser slots of the same shape as the rows (Adam's two moments; SGD uses none). */
export interface MfState {
  usersS1: Float32Array;
  usersS2: Float32Array;
  itemsS1: Float32Array;
  itemsS2: Float32Array;
}

/** Factors ~ truncated normal(initStd), biases 0. */
export function initMfParams(dims: MemberDims, k: number, mean: number, seed: number, initStd: number): MfParams {
  const rng = new Rng(seed);
  const rows = (n: number) => {
    const a = new Float32Array(n * (k + 1));
    for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) a[r * (k + 1) + j] = rng.truncatedNormal(initStd);
    return a;
  };
  return { nUsers: dims.nUsers, nItems: dims.nItems, k, mean, users: rows(dims.nUsers), items: rows(dims.nItems) };
}

export function zeroMfState(p: MfParams): MfState {
  return {
    usersS1: new Float32Array(p.users.length),
    usersS2: new Float32Array(p.users.length),
    itemsS1: new Float32Array(p.items.length),
    itemsS2: new Float32Array(p.items.length),
  };
}

export function cloneMfParams(p: MfParams): MfParams {
  return { ...p, users: p.users.slice(), items: p.items.slice() };
}

export function mfParamsFinite(p: MfParams): boolean {
  for (const a of [p.users, p.items]) for (let k = 0; k < a.length; k++) if (!Number.isFinite(a[k])) return false;
  return Number.isFinite(p.mean);
}

/**
 * Scoring of folded-in users: the row is the only user of a one-row view of the model. In the
 * kernel when there is one (it reads the arrays in place: a whole catalogue in a fraction of a
 * millisecond of the calling thread, instead of a millisecond in TypeScript).
 */
function rowScoring(p: MfParams): Pick<ServingNet, 'scoreRow' | 'scoreRowAll'> {
  const addon = loadMfAddon();
  return oneUserRowScoring(p.nItems, (row, users, items, out) => {
    const view = { ...p, users: row, nUsers: 1 };
    if (addon) out.set(addon.mfPredict(view, users, items));
    else portableScore(view, users, items, items.length, out);
  });
}

/** A trained biased MF model; scoring runs in the native kernel. */
export class MfMember extends MemberBase implements TrainedMember {
  readonly kind = 'mf' as const;

  constructor(
    readonly params: MfParams,
    settings: Record<string, unknown>,
  ) {
    super(params, settings);
  }

  predict(u: Int32Array, i: Int32Array): Float32Array {
    const addon = loadMfAddon();
    if (addon) return addon.mfPredict(this.params, u, i);
    if (u.length !== i.length) throw new TypeError('users and items differ in length');
    return portableScore(this.params, u, i, u.length, new Float32Array(u.length));
  }

  /** The native scorer, or without the kernel a TypeScript one (a checkpoint serves anywhere); a folded-in row against the whole catalogue on a pool thread. */
  prepare(): ServingNet {
    const addon = loadMfAddon();
    const rows = rowScoring(this.params);
    if (!addon) return { ...portableServing(this.params), ...rows };
    const net = new addon.MfServingModel(this.params);
    return {
      score: (u, i, n, out) => net.score(u, i, n, out),
      scoreUser: (u, items, n, out) => net.scoreUser(u, items, n, out),
      scoreAll: (u, out) => net.scoreAll(u, out),
      scoreRow: rows.scoreRow,
      scoreRowAll: (row, out) => net.scoreRowAll(row, out),
    };
  }

  get userRowWidth(): number {
    return this.params.k + 1;
  }

  /**
   * The closed form: [p_u, b_u] is the ridge solution for r − mean − b_i ≈ p_u·q_i + b_u with the
   * training penalties, which are charged once per rating (n·λ on ‖p_u‖², n·λ_bias on b_u²).
   */
  async foldIn(items: Int32Array, ratings: Float32Array, _from: number | null): Promise<Float32Array> {
    return this.ridgeRow(this.params.items, items, ratings);
  }

  get itemRowWidth(): number {
    return this.params.k + 1;
  }

  /** The item side of foldIn: [q_i, b_i] solves r − mean − b_u ≈ p_u·q_i + b_i over the item's raters, n·λ and n·λ_bias. */
  async foldInItem(users: Int32Array, ratings: Float32Array): Promise<Float32Array> {
    return this.ridgeRow(this.params.users, users, ratings);
  }

  /** One row [factors, bias] fitted against the rows of `table` (the other side), the penalties charged per rating. */
  private ridgeRow(table: Float32Array, others: Int32Array, ratings: Float32Array): Promise<Float32Array> {
    const { k, mean } = this.params;
    const { X, y } = ridgeDesign(table, k + 1, others, ratings, mean);
    const n = others.length;
    const lambda = new Float32Array(k + 1).fill(Math.max(1e-6, n * Number(this.settings.lambda)));
    lambda[k] = Math.max(1e-6, n * Number(this.settings.lambdaBias));
    return solveRidge(X, y, lambda);
  }

  scoreFolded(user: number | Float32Array, itemRows: Float32Array, out: Float32Array): void {
    const p = this.params;
    const n = out.length;
    const users = typeof user === 'number' ? { users: p.users, nUsers: p.nUsers } : { users: user, nUsers: 1 };
    const u = new Int32Array(n).fill(typeof user === 'number' ? user : 0);
    const i = Int32Array.from({ length: n }, (_, k) => k);
    portableScore({ ...p, ...users, items: itemRows, nItems: n }, u, i, n, out);
  }

  eraseUser(u: number): void {
    zeroRow(this.params.users, u, this.params.k + 1);
  }

  /** q_i alone: the bias says how well an item is rated, not what it is like, so it stays out of the similarity. */
  itemEmbedding(): { dim: number; data: Float32Array } {
    const { k, nItems, items } = this.params;
    const data = new Float32Array(nItems * k);
    for (let r = 0; r < nItems; r++) data.set(items.subarray(r * (k + 1), r * (k + 1) + k), r * k);
    return { dim: k, data };
  }

  save(dir: string): Promise<void> {
    return saveMfLayers(dir, this.params);
  }
}
