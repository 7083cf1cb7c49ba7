import { Rng } from './rng';

export interface Dims {
  nUsers: number;
  nItems: number;
  d: number;
  dp: number;
  h1: number;
  h2: number;
  h3: number;
  useBias: boolean;
}

/**
 * All parameters of one model in flat Float32Arrays, shared by both engines, the checkpoint
 * and the predictor. Rows of `users` and `items` are [latent (d) | latent' (dp) | bias].
 */
export interface ModelParams extends Dims {
  net: Float32Array;
  users: Float32Array;
  items: Float32Array;
}

/** Optimiser slots, the same shape as the parameters (first and second moments; RMSProp uses the first only). */
export interface OptimizerState {
  netS1: Float32Array;
  netS2: Float32Array;
  usersS1: Float32Array;
  usersS2: Float32Array;
  itemsS1: Float32Array;
  itemsS2: Float32Array;
}

export const rowWidth = (m: Dims) => m.d + m.dp + 1;
export const inWidth = (m: Dims) => 2 * m.d + m.dp;

/** Offsets of the dense layers inside `net`: kernel [in, out] then bias, for each of the four layers. */
export function netLayout(m: Dims): { kernel: number; bias: number; in: number; out: number }[] {
  const sizes: [number, number][] = [
    [inWidth(m), m.h1],
    [m.h1, m.h2],
    [m.h2, m.h3],
    [m.h3, 1],
  ];
  const out = [];
  let off = 0;
  for (const [a, b] of sizes) {
    out.push({ kernel: off, bias: off + a * b, in: a, out: b });
    off += a * b + b;
  }
  return out;
}

export function netSize(m: Dims): number {
  const l = netLayout(m);
  const last = l[l.length - 1];
  return last.bias + last.out;
}

/** Latents ~ truncated normal(std); dense kernels ~ U(±4·sqrt(6/(fan_in+fan_out))); biases 0. */
export function initParams(dims: Dims, seed: number, initStd = 0.1): ModelParams {
  const rng = new Rng(seed);
  const net = new Float32Array(netSize(dims));
  for (const layer of netLayout(dims)) {
    const lim = 4 * Math.sqrt(6 / (layer.in + layer.out));
    for (let k = 0; k < layer.in * layer.out; k++) net[layer.kernel + k] = rng.uniform(-lim, lim);
  }
  const R = rowWidth(dims);
  const latent = (rows: number) => {
    const a = new Float32Array(rows * R);
    for (let r = 0; r < rows; r++) for (let k = 0; k < R - 1; k++) a[r * R + k] = rng.truncatedNormal(initStd);
    return a;
  };
  return { ...dims, net, users: latent(dims.nUsers), items: latent(dims.nItems) };
}

export function zeroOptimizerState(p: ModelParams): OptimizerState {
  return {
    netS1: new Float32Array(p.net.length),
    netS2: new Float32Array(p.net.length),
    usersS1: new Float32Array(p.users.length),
    usersS2: new Float32Array(p.users.length),
    itemsS1: new Float32Array(p.items.length),
    itemsS2: new Float32Array(p.items.length),
  };
}

export function cloneParams(p: ModelParams): ModelParams {
  return { ...p, net: p.net.slice(), users: p.users.slice(), items: p.items.slice() };
}

export function dimsOf(p: Dims): Dims {
  return { nUsers: p.nUsers, nItems: p.nItems, d: p.d, dp: p.dp, h1: p.h1, h2: p.h2, h3: p.h3, useBias: p.useBias };
}

export function allFinite(p: ModelParams): boolean {
  for (const a of [p.net, p.users, p.items]) for (let k = 0; k < a.length; k++) if (!Number.isFinite(a[k])) return false;
  return true;
}
