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
  validationFraction: number;
  testFraction: number;
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
  validationFraction: 0.02,
  testFraction: 0.1,
  threads: 1,
  initStd: 0.1,
  averaging: 0.9,
};

export class ParamError extends Error {}

export type Check = (v: unknown) => boolean;
export const int = (lo: number, hi: number): Check => (v) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
export const num = (lo: number, hi: number): Check => (v) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
const CHECKS: Record<keyof TrainParams, [Check, string]> = {
  d: [int(0, 64), 'an integer 0..64'],
  dp: [int(0, 64), 'an integer 0..64'],
  hidden: [(v) => Array.isArray(v) && v.length === 3 && v.every(int(1, 128)), 'three integers 1..128'],
  lambda: [(v) => v === 'auto' || num(0, 1e6)(v), '"auto" or a number 0..1e6'],
  optimizer: [(v) => v === 'adam' || v === 'rmsprop', '"adam" or "rmsprop"'],
  lr: [num(1e-7, 1e4), 'a number 1e-7..1e4'],
  lrDecay: [num(0.01, 1), 'a number 0.01..1'],
  batchSize: [int(0, 1 << 24), 'an integer 0..16777216 (0 = automatic; larger than the data means full batch)'],
  maxEpochs: [int(1, 100_000), 'an integer 1..100000'],
  patience: [int(1, 10_000), 'an integer 1..10000'],
  seed: [int(0, 2 ** 31 - 1), 'an integer 0..2^31-1'],
  useBias: [(v) => typeof v === 'boolean', 'a boolean'],
  alternating: [(v) => typeof v === 'boolean', 'a boolean'],
  validationFraction: [num(0.001, 0.5), 'a number 0.001..0.5'],
  testFraction: [num(0, 0.5), 'a number 0..0.5'],
  threads: [int(1, 64), 'an integer 1..64'],
  initStd: [num(0, 10), 'a number 0..10'],
  averaging: [num(0, 0.999), 'a number 0..0.999'],
};

export const PARAM_NAMES = Object.keys(CHECKS) as (keyof TrainParams)[];

/** Merges `given` over `base`; a name without a check or a value its check refuses is a ParamError naming the setting (`noun`). */
export function mergeChecked<S extends object>(given: Record<string, unknown>, base: S, checks: Record<keyof S, [Check, string]>, noun: string): S {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(given)) {
    if (!(k in checks)) throw new ParamError(`unknown ${noun} ${k}`);
    const [check, what] = checks[k as keyof S];
    if (!check(v)) throw new ParamError(`${noun} ${k} must be ${what}`);
    out[k] = v;
  }
  return out as unknown as S;
}

/** Merges caller settings over the defaults; unknown names and bad values are errors. */
export function resolveParams(given: Record<string, unknown> = {}, base: TrainParams = DEFAULT_PARAMS): TrainParams {
  const p = mergeChecked<TrainParams>(given, { ...base, hidden: [...base.hidden] }, CHECKS, 'training parameter');
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
