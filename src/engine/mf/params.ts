import { applySettings, int, num, SCHEDULE_CHECKS, type Check } from '../params';

/** Settings of a biased MF member, with the defaults that meet the MovieLens-1M target (see BENCHMARKS.md). */
export interface MfSettings {
  /** Latent factors per user and item. */
  k: number;
  /** Weight of ‖p_u‖² + ‖q_i‖², charged once per training rating. */
  lambda: number;
  /** Weight of b_u² + b_i², charged once per training rating. */
  lambdaBias: number;
  optimizer: 'sgd' | 'adam';
  lr: number;
  /** Learning rate multiplied by this after every epoch. */
  lrDecay: number;
  /** Ratings per step (1 = classic per-rating SGD). */
  batchSize: number;
  maxEpochs: number;
  patience: number;
  seed: number;
  /** Standard deviation of the initial factors (biases start at 0). */
  initStd: number;
  /** Kernel threads; 0 takes the run's. More than one trains lock-free and is not bit-for-bit repeatable. */
  threads: number;
}

export const MF_DEFAULTS: MfSettings = {
  k: 64,
  lambda: 0.05,
  lambdaBias: 0.01,
  optimizer: 'sgd',
  lr: 0.01,
  lrDecay: 0.95,
  batchSize: 1,
  maxEpochs: 100,
  patience: 5,
  seed: 1,
  initStd: 0.02,
  threads: 0,
};

const CHECKS: Record<keyof MfSettings, [Check, string]> = {
  ...SCHEDULE_CHECKS,
  k: [int(1, 1024), 'an integer 1..1024'],
  lambda: [num(0, 1000), 'a number 0..1000'],
  lambdaBias: [num(0, 1000), 'a number 0..1000'],
  optimizer: [(v) => v === 'sgd' || v === 'adam', '"sgd" or "adam"'],
  lr: [num(1e-7, 10), 'a number 1e-7..10'],
  batchSize: [int(1, 1 << 24), 'an integer 1..16777216'],
  initStd: [num(0, 10), 'a number 0..10'],
  threads: [int(0, 64), 'an integer 0..64 (0 = the run\'s threads)'],
};

/** Merges given settings over the defaults; unknown names and bad values are errors. */
export function resolveMfSettings(given: Record<string, unknown> = {}): MfSettings {
  return applySettings(MF_DEFAULTS, given, CHECKS, 'mf parameter');
}
