import type { Dataset } from '../dataset';
import { EngineUnavailableError } from '../engine';
import { metrics } from '../evaluate';
import type { MemberProgress, MemberSplit, MemberTrainOptions, MemberTrainResult } from '../member';
import { nativeLoadError } from '../native';
import { Rng } from '../rng';
import { TrainingCancelledError, TrainingDivergedError } from '../trainer';
import { AutorecMember } from './member';
import { loadAutorecNative, type AutorecServed, type AutorecSlots, type AutorecWeights } from './native';
import { ratedItems, ratingsByItem } from './ratings';
import type { AutorecSettings } from './settings';

/**
 * Encoder and decoder weights uniform in ±initScale/√(fan-in) (the encoder's fan-in is the
 * users, the decoder's the hidden units), encoder bias 0, and the decoder bias at the mean
 * training rating so that the first steps fit the ratings' variation rather than their level.
 */
export function initAutorec(nUsers: number, nItems: number, s: AutorecSettings, meanRating: number): AutorecWeights {
  const rng = new Rng(s.seed);
  const uniform = (n: number, lim: number) => {
    const a = new Float32Array(n);
    for (let k = 0; k < n; k++) a[k] = rng.uniform(-lim, lim);
    return a;
  };
  const H = s.hidden;
  return {
    nUsers,
    nItems,
    hidden: H,
    W: uniform(nUsers * H, s.initScale / Math.sqrt(nUsers)),
    b: new Float32Array(H),
    V: uniform(nUsers * H, s.initScale / Math.sqrt(H)),
    c: new Float32Array(nUsers).fill(meanRating),
  };
}

export function zeroSlots(w: AutorecWeights): AutorecSlots {
  const z = (a: Float32Array) => new Float32Array(a.length);
  return { mW: z(w.W), vW: z(w.W), mb: z(w.b), vb: z(w.b), mV: z(w.V), vV: z(w.V), mc: z(w.c), vc: z(w.c) };
}

function allFinite(...arrays: Float32Array[]): boolean {
  for (const a of arrays) for (let k = 0; k < a.length; k++) if (!Number.isFinite(a[k])) return false;
  return true;
}

/**
 * Trains I-AutoRec on the training positions with early stopping on the validation positions and
 * returns the best epoch's member. Item codes (for validation and for serving) come from the
 * training ratings only. Throws TrainingCancelledError when the signal aborts and
 * TrainingDivergedError when the loss or the weights stop being finite.
 */
export async function trainAutorec(ds: Dataset, split: MemberSplit, s: AutorecSettings, opts: MemberTrainOptions): Promise<MemberTrainResult> {
  const addon = loadAutorecNative();
  if (!addon) throw new EngineUnavailableError(`autorec needs the native kernel: ${nativeLoadError() ?? 'it was built without autorec'}`);
  if (split.train.length === 0 || split.validation.length === 0) throw new Error('training or validation positions are empty');
  const nUsers = ds.userIds.length;
  const nItems = ds.itemIds.length;
  const ratings = ratingsByItem(ds, split.train, nItems);
  const items = ratedItems(ratings);
  const mean = ratings.ratings.reduce((a, b) => a + b, 0) / ratings.ratings.length;
  const weights = initAutorec(nUsers, nItems, s, mean);
  const model = { ...weights, ...zeroSlots(weights) };
  const valU = Int32Array.from(split.validation, (p) => ds.u[p]);
  const valI = Int32Array.from(split.validation, (p) => ds.i[p]);
  const valR = Float32Array.from(split.validation, (p) => ds.r[p]);
  const threads = s.threads > 0 ? s.threads : Math.max(1, opts.threads);
  const settings = { ...s };
  const cancel = new Int32Array(1);
  const onAbort = () => {
    cancel[0] = 1;
  };
  opts.signal?.addEventListener('abort', onAbort);
  const rng = new Rng(s.seed + 1);
  const divergenceLimit = 100 * (opts.scale.max - opts.scale.min + 1);
  const started = Date.now();
  const history: MemberProgress[] = [];
  let best: { served: AutorecServed; epoch: number; rmse: number } | null = null;
  let step = 0;
  try {
    for (let epoch = 1; epoch <= s.maxEpochs; epoch++) {
      if (opts.signal?.aborted) throw new TrainingCancelledError();
      const t0 = Date.now();
      const lr = s.lr * Math.pow(s.lrDecay, epoch - 1);
      const order = rng.shuffle(items.slice());
      // The codes for judging the epoch come with it, computed off the JavaScript thread.
      const codes = new Float32Array(nItems * s.hidden);
      const res = await addon.autorecTrainEpoch(model, { ...ratings, order }, { batchSize: s.batchSize, lr, lambda: s.lambda, step, threads, cancel, codes });
      step = res.step;
      if (res.cancelled || opts.signal?.aborted) throw new TrainingCancelledError();
      const trainRmse = Math.sqrt(res.sse / Math.max(1, res.count));
      // Adam rarely reaches Inf; an error far beyond the rating scale is divergence all the same.
      if (!Number.isFinite(res.sse) || trainRmse > divergenceLimit || !allFinite(model.W, model.b, model.V, model.c)) {
        throw new TrainingDivergedError(
          `autorec training diverged in epoch ${epoch}: training RMSE ${trainRmse.toPrecision(3)} (learning rate ${s.lr} is probably too high)`,
        );
      }
      const served: AutorecServed = { nUsers, nItems, hidden: s.hidden, V: model.V, c: model.c, codes };
      const rmse = metrics(addon.autorecPredict(served, valU, valI), valR, opts.scale.min, opts.scale.max).rmse;
      const improved = best === null || rmse < best.rmse;
      if (improved) best = { served: { ...served, V: model.V.slice(), c: model.c.slice() }, epoch, rmse };
      const progress: MemberProgress = {
        epoch,
        trainRmse,
        validationRmse: rmse,
        seconds: (Date.now() - t0) / 1000,
        elapsedSeconds: (Date.now() - started) / 1000,
        best: improved,
      };
      history.push(progress);
      opts.onEpoch?.(progress);
      if (epoch - best!.epoch >= s.patience) break;
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return {
    member: new AutorecMember(best!.served, settings),
    history,
    epochs: history.length,
    bestEpoch: best!.epoch,
    validationRmse: best!.rmse,
    seconds: (Date.now() - started) / 1000,
  };
}
