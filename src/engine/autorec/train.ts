import type { Dataset } from '../dataset';
import { EngineUnavailableError } from '../engine';
import { metrics } from '../evaluate';
import { trainWithEarlyStopping } from '../early-stopping';
import type { MemberSplit, MemberTrainOptions, MemberTrainResult } from '../member';
import { nativeLoadError } from '../native';
import { Rng } from '../rng';
import { heldOut } from '../trainer';
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
  const val = heldOut(ds, split.validation);
  const threads = s.threads > 0 ? s.threads : Math.max(1, opts.threads);
  const rng = new Rng(s.seed + 1);
  let step = 0;
  let served: AutorecServed | null = null;
  return trainWithEarlyStopping(
    {
      kind: 'autorec',
      settings: s,
      epoch: async (_epoch, cancel, lr) => {
        const order = rng.shuffle(items.slice());
        // The codes for judging the epoch come with it, computed off the JavaScript thread.
        const codes = new Float32Array(nItems * s.hidden);
        const res = await addon.autorecTrainEpoch(
          model,
          { ...ratings, order },
          { batchSize: s.batchSize, lr, lambda: s.lambda, step, threads, cancel, codes },
        );
        step = res.step;
        served = { nUsers, nItems, hidden: s.hidden, V: model.V, c: model.c, codes };
        return res;
      },
      finite: () => allFinite(model.W, model.b, model.V, model.c),
      validate: () => metrics(addon.autorecPredict(served!, val.u, val.i), val.r, opts.scale.min, opts.scale.max).rmse,
      keep: () => ({ ...served!, V: model.V.slice(), c: model.c.slice(), encW: model.W.slice(), encB: model.b.slice() }),
      member: (best: AutorecServed) => new AutorecMember(best, { ...s }),
    },
    opts,
  );
}
