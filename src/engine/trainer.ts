import { regWeights, size, type Dataset } from './dataset';
import type { Engine } from './engine';
import { metrics, type Metrics } from './evaluate';
import type { MemberSplit } from './member';
import { effectiveBatchSize, effectiveLambda, type TrainParams } from './params';
import { Rng } from './rng';
import { predictInSlices } from './slices';
import { allFinite, cloneParams, initParams, type ModelParams } from './state';

export interface EpochProgress {
  epoch: number;
  trainRmse: number;
  validationRmse: number;
  lr: number;
  seconds: number;
  elapsedSeconds: number;
  best: boolean;
}

export interface TrainResult {
  params: ModelParams;
  epochs: number;
  bestEpoch: number;
  history: EpochProgress[];
  validation: Metrics;
  counts: { train: number; validation: number; users: number; items: number };
  /** The regularisation weight used (resolved when the setting is 'auto'). */
  lambda: number;
  seconds: number;
  stoppedBy: 'patience' | 'maxEpochs';
}

export class TrainingCancelledError extends Error {
  constructor() {
    super('training cancelled');
  }
}

export class TrainingDivergedError extends Error {}

export interface TrainOptions {
  engine: Engine;
  params: TrainParams;
  scale: { min: number; max: number };
  signal?: AbortSignal;
  onEpoch?: (p: EpochProgress) => void;
}

interface HeldOut {
  u: Int32Array;
  i: Int32Array;
  r: Float32Array;
}

/** The ratings at `positions` as parallel arrays, gathered once and evaluated every epoch. */
export function heldOut(ds: Dataset, positions: Int32Array): HeldOut {
  return {
    u: Int32Array.from(positions, (p) => ds.u[p]),
    i: Int32Array.from(positions, (p) => ds.i[p]),
    r: Float32Array.from(positions, (p) => ds.r[p]),
  };
}

/** Metrics of parameters on held-out ratings, scored in slices so the calling thread keeps answering requests. */
export async function evaluateInSlices(engine: Engine, p: ModelParams, set: HeldOut, scale: { min: number; max: number }): Promise<Metrics> {
  return metrics(await predictInSlices((u, i) => engine.predict(p, u, i), set.u, set.i), set.r, scale.min, scale.max);
}

export function evaluate(engine: Engine, p: ModelParams, set: HeldOut, scale: { min: number; max: number }): Metrics {
  return metrics(engine.predict(p, set.u, set.i), set.r, scale.min, scale.max);
}

/** avg ← decay·avg + (1 − decay)·p, in place. */
function blend(avg: ModelParams, p: ModelParams, decay: number): ModelParams {
  for (const k of ['net', 'users', 'items'] as const) {
    const a = avg[k];
    const b = p[k];
    for (let j = 0; j < a.length; j++) a[j] = decay * a[j] + (1 - decay) * b[j];
  }
  return avg;
}

/**
 * Trains NNMF on the split's training positions with early stopping on its validation
 * positions and returns the parameters of the best epoch. Throws TrainingCancelledError when
 * the signal aborts and TrainingDivergedError when the loss or the weights stop being finite
 * (nothing non-finite is ever returned).
 */
export async function train(ds: Dataset, split: MemberSplit, opts: TrainOptions): Promise<TrainResult> {
  const s = opts.params;
  if (size(ds) < 2) throw new Error('need at least two ratings to train');
  if (split.train.length === 0 || split.validation.length === 0) throw new Error('training or validation split is empty');
  const dims = {
    nUsers: ds.userIds.length,
    nItems: ds.itemIds.length,
    d: s.d,
    dp: s.dp,
    h1: s.hidden[0],
    h2: s.hidden[1],
    h3: s.hidden[2],
    useBias: s.useBias,
  };
  const params = initParams(dims, s.seed, s.initStd);
  const lambda = effectiveLambda(s, split.train.length, dims.nUsers);
  const regU = regWeights(ds.u, split.train, dims.nUsers, lambda);
  const regI = regWeights(ds.i, split.train, dims.nItems, lambda);
  const settings = { ...s, batchSize: effectiveBatchSize(s, split.train.length) };
  const session = await opts.engine.createSession(params, settings);
  const cancel = new Int32Array(1);
  const onAbort = () => {
    cancel[0] = 1;
  };
  opts.signal?.addEventListener('abort', onAbort);
  const validation = heldOut(ds, split.validation);
  const rng = new Rng(s.seed + 1);
  const divergenceLimit = 100 * (opts.scale.max - opts.scale.min + 1);
  const started = Date.now();
  const history: EpochProgress[] = [];
  let best: { params: ModelParams; epoch: number; validation: Metrics } | null = null;
  let stoppedBy: TrainResult['stoppedBy'] = 'maxEpochs';
  let ema: ModelParams | null = null;
  try {
    for (let epoch = 1; epoch <= s.maxEpochs; epoch++) {
      if (opts.signal?.aborted) throw new TrainingCancelledError();
      const t0 = Date.now();
      const lr = s.lr * Math.pow(s.lrDecay, epoch - 1);
      const order = await rng.shuffleInSlices(split.train.slice());
      const res = await session.epoch({ data: ds, order, regU, regI, lr }, cancel);
      if (res.cancelled || opts.signal?.aborted) throw new TrainingCancelledError();
      const trainRmse = Math.sqrt(res.sse / Math.max(1, res.count));
      // Adaptive optimisers rarely reach Inf; an error far beyond the rating scale is divergence all the same.
      if (!Number.isFinite(res.sse) || !allFinite(params) || trainRmse > divergenceLimit) {
        throw new TrainingDivergedError(
          `training diverged in epoch ${epoch}: training RMSE ${trainRmse.toPrecision(3)} (learning rate ${s.lr} is probably too high)`,
        );
      }
      // With averaging on, the model judged (and kept) is the running average of the epochs' weights.
      if (s.averaging > 0) ema = ema ? blend(ema, params, s.averaging) : cloneParams(params);
      const judged = ema ?? params;
      const val = await evaluateInSlices(opts.engine, judged, validation, opts.scale);
      const improved = best === null || val.rmse < best.validation.rmse;
      if (improved) best = { params: cloneParams(judged), epoch, validation: val };
      const progress: EpochProgress = {
        epoch,
        trainRmse,
        validationRmse: val.rmse,
        lr,
        seconds: (Date.now() - t0) / 1000,
        elapsedSeconds: (Date.now() - started) / 1000,
        best: improved,
      };
      history.push(progress);
      opts.onEpoch?.(progress);
      if (best && epoch - best.epoch >= s.patience) {
        stoppedBy = 'patience';
        break;
      }
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    session.dispose();
  }
  const finalParams = best!.params;
  return {
    params: finalParams,
    epochs: history.length,
    bestEpoch: best!.epoch,
    history,
    // The best epoch's figures: measured on exactly these parameters when they were kept.
    validation: best!.validation,
    counts: { train: split.train.length, validation: split.validation.length, users: dims.nUsers, items: dims.nItems },
    lambda,
    seconds: (Date.now() - started) / 1000,
    stoppedBy,
  };
}
