import type { ServingNet } from '../engine';
import { MemberBase, type MemberDims, type TrainedMember } from '../member';
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

  /** The native scorer, or without the kernel a TypeScript one (a checkpoint serves anywhere). */
  prepare(): ServingNet {
    const addon = loadMfAddon();
    return addon ? new addon.MfServingModel(this.params) : portableServing(this.params);
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
