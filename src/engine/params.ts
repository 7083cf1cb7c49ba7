import { CodedError } from './coded-error';

/** Training settings: every knob of the trainer, with the defaults that meet the accuracy targets. */
export interface TrainParams {
  d: number;
  dp: number;
  hidden: [number, number, number];
  /** Weight of the latents' squared norms, or 'auto': LAMBDA_PER_RATING × training ratings per user. */
  lambda: number | 'auto';
  optimizer: 'adam' | 'rmsprop';
  lr: number;
  /** Learning rate multiplied by this after every epoch. */
  lrDecay: number;
  /** Ratings per step; 0 picks about 60 steps per epoch, between 256 and 16384. */
  batchSize: number;
  maxEpochs: number;
  patience: number;
  seed: number;
  useBias: boolean;
  /** Recompute the latent gradients after the network step (the paper's alternation) or reuse one pass. */
  alternating: boolean;
  threads: number;
  initStd: number;
  /** Judge and keep an exponential moving average of the weights over epochs with this decay (0 = off). */
  averaging: number;
}

export const DEFAULT_PARAMS: TrainParams = {
  d: 10,
  dp: 60,
  hidden: [50, 50, 50],
  lambda: 'auto',
  optimizer: 'adam',
  lr: 3e-3,
  lrDecay: 0.97,
  batchSize: 0,
  maxEpochs: 80,
  patience: 12,
  seed: 1,
  useBias: true,
  alternating: true,
  threads: 1,
  initStd: 0.1,
  averaging: 0.9,
};

/** A training setting out of its range, unknown, or inconsistent with the others. */
export class ParamError extends CodedError {
  readonly code = 'RECO_ERR_VALIDATION';
}

/** Value checks for settings tables (also used by the other model kinds' settings). */
export type Check = (v: unknown) => boolean;
export const int = (lo: number, hi: number): Check => (v) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
export const num = (lo: number, hi: number): Check => (v) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;

/** The checks every model kind's settings share: the schedule of early stopping and the seed. */
export const SCHEDULE_CHECKS = {
  lrDecay: [num(0.01, 1), 'a number 0.01..1'],
  maxEpochs: [int(1, 100_000), 'an integer 1..100000'],
  patience: [int(1, 10_000), 'an integer 1..10000'],
  seed: [int(0, 2 ** 31 - 1), 'an integer 0..2^31-1'],
} satisfies Record<string, [Check, string]>;
const CHECKS: Record<keyof TrainParams, [Check, string]> = {
  ...SCHEDULE_CHECKS,
  // Both latent parts are layers of the network: a zero-width one cannot be built or saved.
  d: [int(1, 64), 'an integer 1..64'],
  dp: [int(1, 64), 'an integer 1..64'],
  hidden: [(v) => Array.isArray(v) && v.length === 3 && v.every(int(1, 128)), 'three integers 1..128'],
  lambda: [(v) => v === 'auto' || num(0, 1e6)(v), '"auto" or a number 0..1e6'],
  optimizer: [(v) => v === 'adam' || v === 'rmsprop', '"adam" or "rmsprop"'],
  lr: [num(1e-7, 1e4), 'a number 1e-7..1e4'],
  batchSize: [int(0, 1 << 24), 'an integer 0..16777216 (0 = automatic; larger than the data means full batch)'],
  useBias: [(v) => typeof v === 'boolean', 'a boolean'],
  alternating: [(v) => typeof v === 'boolean', 'a boolean'],
  threads: [int(1, 64), 'an integer 1..64'],
  initStd: [num(0, 10), 'a number 0..10'],
  averaging: [num(0, 0.999), 'a number 0..0.999'],
};

/**
 * Copies `given` over `base` after checking every name and value against `checks`; `what`
 * names a setting in the ParamError messages ("training parameter d must be ...").
 */
export function applySettings<S extends object>(base: S, given: Record<string, unknown>, checks: Record<keyof S, [Check, string]>, what: string): S {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(given)) {
    if (!(k in checks)) throw new ParamError(`unknown ${what} ${k}`);
    const [check, desc] = checks[k as keyof S];
    if (!check(v)) throw new ParamError(`${what} ${k} must be ${desc}`);
    out[k] = v;
  }
  return out as S;
}

export const PARAM_NAMES = Object.keys(CHECKS) as (keyof TrainParams)[];

/** Merges caller settings over the defaults; unknown names and bad values are errors. */
export function resolveParams(given: Record<string, unknown> = {}, base: TrainParams = DEFAULT_PARAMS): TrainParams {
  const p = applySettings<TrainParams>({ ...base, hidden: [...base.hidden] }, given, CHECKS, 'training parameter');
  if (2 * p.d + p.dp < 1 || 2 * p.d + p.dp > 128) throw new ParamError('2*d + dp must be between 1 and 128');
  return p;
}

/** The batch size a run uses: the setting, or for 0 one giving about 60 steps per epoch. */
export function effectiveBatchSize(p: TrainParams, trainCount: number): number {
  if (p.batchSize > 0) return p.batchSize;
  return Math.max(256, Math.min(16384, Math.round(trainCount / 60)));
}

/**
 * The data term of a row grows with its number of ratings while its penalty does not, so the
 * penalty that suits a data set grows with ratings per user (best values measured: about 25
 * on MovieLens-100K and 40 on MovieLens-1M, both 0.27 of the training ratings per user).
 */
export const LAMBDA_PER_RATING = 0.27;

export function effectiveLambda(p: TrainParams, trainCount: number, users: number): number {
  if (p.lambda !== 'auto') return p.lambda;
  return LAMBDA_PER_RATING * (trainCount / Math.max(1, users));
}
