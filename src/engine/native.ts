import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../root';
import type { ModelParams, OptimizerState } from './state';

export interface NativeData {
  u: Int32Array;
  i: Int32Array;
  r: Float32Array;
  order: Int32Array;
  regU: Float32Array;
  regI: Float32Array;
}

export interface NativeOptions {
  batchSize: number;
  lr: number;
  optimizer: 0 | 1;
  rho?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  step: number;
  alternating: boolean;
  threads: number;
  cancel?: Int32Array;
}

export interface NativeServingModel {
  score(users: Int32Array, items: Int32Array, count: number, out: Float32Array): void;
  scoreUser(user: number, items: Int32Array, count: number, out: Float32Array): Promise<void>;
  scoreAll(user: number, out: Float32Array): Promise<void>;
  /** As scoreAll, for a user given by a row of user parameters (a folded-in user), on a pool thread. */
  scoreRowAll(row: Float32Array, out: Float32Array): Promise<void>;
}

/** The NNMF serving model also scores a user given by a row against a list of items, synchronously (see foldIn). */
export interface NativeNnmfServing extends NativeServingModel {
  scoreRow(row: Float32Array, items: Int32Array, count: number, out: Float32Array): void;
}

export interface FoldInOptions {
  /** Weight of the row's squared norm (the user's whole share of the training penalty). */
  lambda: number;
  lr: number;
  steps: number;
}

export interface NativeAddon {
  kernel: string;
  ServingModel: new (model: ModelParams) => NativeNnmfServing;
  /** Fits `row` (starting point, overwritten) to the ratings of `items`, everything else frozen; off the JavaScript thread. */
  foldIn(
    model: ModelParams,
    items: Int32Array,
    ratings: Float32Array,
    row: Float32Array,
    opts: FoldInOptions,
  ): Promise<{ loss: number; rmse: number }>;
  /** The item side of foldIn: fits an item's `row` [V | V' | bias] to its ratings by `users`, the network and every user frozen. */
  foldInItem(
    model: ModelParams,
    users: Int32Array,
    ratings: Float32Array,
    row: Float32Array,
    opts: FoldInOptions,
  ): Promise<{ loss: number; rmse: number }>;
  /** Ridge regression (X: n × p row-major): w minimising ‖Xw − y‖² + Σ lambda[k]·w_k²; off the JavaScript thread. */
  ridge(X: Float32Array, y: Float32Array, lambda: Float32Array): Promise<Float32Array>;
  /** malloc_trim(0) on a pool thread (glibc): freed memory back to the system; whether any went. Absent from older builds. */
  trimMemory?(): Promise<boolean>;
  trainEpoch(
    model: ModelParams & OptimizerState,
    data: NativeData,
    opts: NativeOptions,
  ): Promise<{ sse: number; count: number; step: number; cancelled: boolean }>;
  predict(model: ModelParams, users: Int32Array, items: Int32Array): Float32Array;
  lossAndGrad(model: ModelParams, data: NativeData): { loss: number; gNet: Float32Array; gUsers: Float32Array; gItems: Float32Array };
}

let cached: NativeAddon | null | undefined;
let loadError: string | null = null;

/** The compiled kernel, or null when it was not built (the reason is in nativeLoadError()). */
export function loadNative(): NativeAddon | null {
  if (cached !== undefined) return cached;
  const root = projectRoot();
  for (const dir of ['build/Release', 'build/Debug']) {
    const file = path.join(root, dir, 'nnmf_native.node');
    if (!fs.existsSync(file)) continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- an addon is loaded from a path found at run time, and may be absent
      cached = require(file) as NativeAddon;
      return cached;
    } catch (err) {
      loadError = err instanceof Error ? err.message : String(err);
    }
  }
  loadError ??= 'build/Release/nnmf_native.node not found (run npm run build:native)';
  cached = null;
  return cached;
}

export function nativeLoadError(): string | null {
  loadNative();
  return loadError;
}
