import { applySettings, defaultsOf, ParamError, scheduleSettings, type KindSettings, type SettingsTable } from './settings-table';

export { ParamError };

/** NNMF's training settings: every knob of the trainer (meanings and ranges in NNMF_SETTINGS). */
export interface TrainParams extends KindSettings {
  d: number;
  dp: number;
  hidden: [number, number, number];
  lambda: number | 'auto';
  optimizer: 'adam' | 'rmsprop';
  useBias: boolean;
  alternating: boolean;
  initStd: number;
  averaging: number;
  networks: number | 'auto';
}

/**
 * NNMF's settings: ranges, meanings and the defaults that meet the accuracy targets. The API
 * schema of the settings is generated from this table (src/schemas/settings.ts).
 */
export const NNMF_SETTINGS: SettingsTable<TrainParams> = {
  // Both latent parts are layers of the network: a zero-width one cannot be built or saved.
  d: { type: 'integer', min: 1, max: 64, default: 10, description: 'Latent size D: the width of U_u and V_i, which enter the network whole' },
  dp: {
    type: 'integer',
    min: 1,
    max: 64,
    default: 60,
    description: "Latent size D': the width of U'_u and V'_i, which enter as their elementwise product",
  },
  hidden: { type: 'integers', count: 3, min: 1, max: 128, default: [50, 50, 50], description: 'Sigmoid units of the three hidden layers' },
  lambda: {
    type: 'number',
    auto: true,
    min: 0,
    max: 1e6,
    default: 'auto',
    description: 'Weight of the squared norms of the latents; "auto" is 0.27 × training ratings per user (25 on MovieLens-100K, 40 on MovieLens-1M)',
  },
  optimizer: { type: 'enum', values: ['adam', 'rmsprop'], default: 'adam', description: 'Optimiser of the network and the latents' },
  lr: { type: 'number', min: 1e-7, max: 1e4, default: 3e-3, description: 'Learning rate' },
  batchSize: {
    type: 'integer',
    min: 0,
    max: 1 << 24,
    note: '0 = automatic; larger than the data means full batch',
    default: 0,
    description: 'Ratings per step; 0 picks about 60 steps per epoch (256 to 16384)',
  },
  useBias: { type: 'boolean', default: true, description: 'Add a per-user and a per-item bias to the output' },
  alternating: {
    type: 'boolean',
    default: true,
    description:
      "Each step: an optimiser step on the network with the latents fixed, then one on the latents with the new network fixed (the paper's alternation); false reuses one pass",
  },
  threads: { type: 'integer', min: 1, max: 64, default: 1, description: "Native kernel threads, at most the job's" },
  initStd: { type: 'number', min: 0, max: 10, default: 0.1, description: 'Standard deviation of the initial latents and weights (truncated normal)' },
  averaging: {
    type: 'number',
    min: 0,
    max: 0.999,
    default: 0.9,
    description: 'When above 0, the weights judged and kept are an exponential moving average over epochs with this decay (0 turns it off)',
  },
  networks: {
    type: 'integer',
    auto: true,
    min: 1,
    max: 8,
    default: 'auto',
    description:
      'Networks trained from independent initial weights (seeds seed, seed + 1, …) and blended on the validation bucket; "auto" is 2 when NNMF is the whole model, 1 inside an ensemble',
  },
  ...scheduleSettings({ lrDecay: 0.97, maxEpochs: 80, patience: 12, seed: 1 }),
};

/**
 * Networks of an NNMF model trained alone when `networks` is 'auto'. One network's test RMSE
 * depends on its initial weights by ~0.004 on MovieLens-1M (more for an unlucky seed): two
 * networks blended take most of that spread away, and inside an ensemble the other members do.
 */
export const NETWORKS_ALONE = 2;

/** How many networks `p` trains: its setting, or for 'auto' NETWORKS_ALONE alone and 1 in an ensemble. */
export function effectiveNetworks(p: Pick<TrainParams, 'networks'>, alone: boolean): number {
  if (p.networks !== 'auto') return p.networks;
  return alone ? NETWORKS_ALONE : 1;
}

export const DEFAULT_PARAMS: TrainParams = defaultsOf(NNMF_SETTINGS);

export const PARAM_NAMES = Object.keys(NNMF_SETTINGS) as (keyof TrainParams)[];

/** Merges caller settings over the defaults; unknown names and bad values are errors. */
export function resolveParams(given: Record<string, unknown> = {}, base: TrainParams = DEFAULT_PARAMS): TrainParams {
  const p = applySettings<TrainParams>({ ...base, hidden: [...base.hidden] }, given, NNMF_SETTINGS, 'training parameter');
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
