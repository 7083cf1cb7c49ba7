import { applySettings, defaultsOf, scheduleSettings, type KindSettings, type SettingsTable } from '../settings-table';

/** Training settings of an I-AutoRec member (meanings and ranges in AUTOREC_SETTINGS). */
export interface AutorecSettings extends KindSettings {
  hidden: number;
  lambda: number;
  initScale: number;
}

export const AUTOREC_SETTINGS: SettingsTable<AutorecSettings> = {
  hidden: { type: 'integer', min: 1, max: 4096, default: 500, description: 'Sigmoid units of the item code h_i' },
  lambda: {
    type: 'number',
    min: 0,
    max: 1e7,
    default: 300,
    description:
      'Weight of (‖W‖² + ‖V‖²)/2 against the squared error summed over all training ratings (one epoch); a step over B of the n items carries B/n of it',
  },
  lr: { type: 'number', min: 1e-7, max: 1e4, default: 1e-3, description: "Adam's learning rate" },
  batchSize: { type: 'integer', min: 1, max: 1 << 24, default: 256, description: 'Items per optimiser step' },
  initScale: {
    type: 'number',
    min: 0,
    max: 100,
    default: 1,
    description: 'Weights start uniform in ±initScale/√(fan-in) (as a PyTorch Linear layer for 1); the output bias at the mean rating',
  },
  threads: { type: 'integer', min: 0, max: 64, note: "0 = the run's", default: 0, description: "Native kernel threads (0: the job's)" },
  ...scheduleSettings({ lrDecay: 0.95, maxEpochs: 40, patience: 4, seed: 1 }),
};

export const AUTOREC_DEFAULTS: AutorecSettings = defaultsOf(AUTOREC_SETTINGS);

/** Merges given settings over the defaults; unknown names and bad values are ParamErrors. */
export function resolveAutorec(given: Record<string, unknown> = {}): AutorecSettings {
  return applySettings(AUTOREC_DEFAULTS, given, AUTOREC_SETTINGS, 'autorec setting');
}
