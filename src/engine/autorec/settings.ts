import { applySettings, int, num, SCHEDULE_CHECKS, type Check } from '../params';

/** Training settings of an I-AutoRec member. */
export interface AutorecSettings {
  /** Sigmoid units of the item code h_i. */
  hidden: number;
  /** Weight of (‖W‖² + ‖V‖²)/2 against the summed squared error of all training ratings (one epoch). */
  lambda: number;
  lr: number;
  /** Learning rate multiplied by this after every epoch. */
  lrDecay: number;
  /** Items per optimiser step. */
  batchSize: number;
  maxEpochs: number;
  patience: number;
  seed: number;
  /** Weights start uniform in ±initScale/√(fan-in) (as a PyTorch Linear layer for 1). */
  initScale: number;
  /** Native kernel threads; 0 takes the run's. */
  threads: number;
}

export const AUTOREC_DEFAULTS: AutorecSettings = {
  hidden: 500,
  lambda: 300,
  lr: 1e-3,
  lrDecay: 0.95,
  batchSize: 256,
  maxEpochs: 40,
  patience: 4,
  seed: 1,
  initScale: 1,
  threads: 0,
};

const CHECKS: Record<keyof AutorecSettings, [Check, string]> = {
  ...SCHEDULE_CHECKS,
  hidden: [int(1, 4096), 'an integer 1..4096'],
  lambda: [num(0, 1e7), 'a number 0..1e7'],
  lr: [num(1e-7, 1e4), 'a number 1e-7..1e4'],
  batchSize: [int(1, 1 << 24), 'an integer 1..16777216'],
  initScale: [num(0, 100), 'a number 0..100'],
  threads: [int(0, 64), 'an integer 0..64 (0 = the run\'s)'],
};

/** Merges given settings over the defaults; unknown names and bad values are ParamErrors. */
export function resolveAutorec(given: Record<string, unknown> = {}): AutorecSettings {
  return applySettings(AUTOREC_DEFAULTS, given, CHECKS, 'autorec setting');
}
