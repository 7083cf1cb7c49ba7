import { applySettings, defaultsOf, scheduleSettings, type KindSettings, type SettingsTable } from '../settings-table';

/** Settings of a biased MF member (meanings and ranges in MF_SETTINGS). */
export interface MfSettings extends KindSettings {
  k: number;
  lambda: number;
  lambdaBias: number;
  optimizer: 'sgd' | 'adam';
  initStd: number;
}

/** MF's settings, with the defaults that meet the MovieLens-1M target (see BENCHMARKS.md). */
export const MF_SETTINGS: SettingsTable<MfSettings> = {
  k: { type: 'integer', min: 1, max: 1024, default: 64, description: 'Latent factors per user and item' },
  lambda: { type: 'number', min: 0, max: 1000, default: 0.05, description: 'Weight of ‖p_u‖² + ‖q_i‖², charged once per training rating' },
  lambdaBias: { type: 'number', min: 0, max: 1000, default: 0.01, description: 'Weight of b_u² + b_i², charged once per training rating' },
  optimizer: { type: 'enum', values: ['sgd', 'adam'], default: 'sgd', description: 'SGD one rating at a time, or Adam over minibatches' },
  lr: { type: 'number', min: 1e-7, max: 10, default: 0.01, description: 'Learning rate' },
  batchSize: { type: 'integer', min: 1, max: 1 << 24, default: 1, description: 'Ratings per step (1 = classic per-rating SGD)' },
  initStd: { type: 'number', min: 0, max: 10, default: 0.02, description: 'Standard deviation of the initial factors (normal; biases start at 0)' },
  threads: {
    type: 'integer',
    min: 0,
    max: 64,
    note: "0 = the run's threads",
    default: 0,
    description: "Kernel threads (0: the job's); more than one trains lock-free and is not bit-for-bit repeatable",
  },
  ...scheduleSettings({ lrDecay: 0.95, maxEpochs: 100, patience: 5, seed: 1 }),
};

export const MF_DEFAULTS: MfSettings = defaultsOf(MF_SETTINGS);

/** Merges given settings over the defaults; unknown names and bad values are errors. */
export function resolveMfSettings(given: Record<string, unknown> = {}): MfSettings {
  return applySettings(MF_DEFAULTS, given, MF_SETTINGS, 'mf parameter');
}
