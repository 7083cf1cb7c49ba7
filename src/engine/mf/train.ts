import type { Dataset } from '../dataset';
import type { MemberProgress, MemberSplit, MemberTrainOptions, MemberTrainResult } from '../member';
import { Rng } from '../rng';
import { TrainingCancelledError, TrainingDivergedError } from '../trainer';
import { MfMember, cloneMfParams, initMfParams, mfParamsFinite, zeroMfState, type MfParams } from './model';
import { requireMfAddon } from './native';
import type { MfSettings } from './params';

function meanRating(ds: Dataset, positions: Int32Array): number {
  let s = 0;
  for (const p of positions) s += ds.r[p];
  return s / Math.max(1, positions.length);
}

/**
 * Trains biased MF on split.train with early stopping on split.validation, as the NNMF trainer
 * does: the best epoch's parameters are kept; cancellation and divergence throw.
 */
export async function trainMf(ds: Dataset, split: MemberSplit, s: MfSettings, opts: MemberTrainOptions): Promise<MemberTrainResult> {
  if (split.train.length === 0 || split.validation.length === 0) throw new Error('training or validation positions are empty');
  const addon = requireMfAddon();
  const dims = { nUsers: ds.userIds.length, nItems: ds.itemIds.length };
  const params = initMfParams(dims, s.k, meanRating(ds, split.train), s.seed, s.initStd);
  const model = { ...params, ...zeroMfState(params) };
  const val = {
    u: Int32Array.from(split.validation, (p) => ds.u[p]),
    i: Int32Array.from(split.validation, (p) => ds.i[p]),
    r: Float32Array.from(split.validation, (p) => ds.r[p]),
  };
  const cancel = new Int32Array(1);
  const onAbort = () => {
    cancel[0] = 1;
  };
  opts.signal?.addEventListener('abort', onAbort);
  const rng = new Rng(s.seed + 1);
  const divergenceLimit = 100 * (opts.scale.max - opts.scale.min + 1);
  const started = Date.now();
  const history: MemberProgress[] = [];
  let best: { params: MfParams; epoch: number; rmse: number } | null = null;
  let step = 0;
  try {
    for (let epoch = 1; epoch <= s.maxEpochs; epoch++) {
      if (opts.signal?.aborted) throw new TrainingCancelledError();
      const t0 = Date.now();
      const order = await rng.shuffleInSlices(split.train.slice());
      const res = await addon.mfTrainEpoch(
        model,
        { u: ds.u, i: ds.i, r: ds.r, order },
        {
          batchSize: s.batchSize,
          lr: s.lr * Math.pow(s.lrDecay, epoch - 1),
          lambda: s.lambda,
          lambdaBias: s.lambdaBias,
          optimizer: s.optimizer === 'adam' ? 1 : 0,
          step,
          threads: s.threads || opts.threads,
          cancel,
        },
      );
      step = res.step;
      if (res.cancelled || opts.signal?.aborted) throw new TrainingCancelledError();
      const trainRmse = Math.sqrt(res.sse / Math.max(1, res.count));
      if (!Number.isFinite(res.sse) || trainRmse > divergenceLimit || !mfParamsFinite(params)) {
        throw new TrainingDivergedError(
          `mf training diverged in epoch ${epoch}: training RMSE ${trainRmse.toPrecision(3)} (learning rate ${s.lr} is probably too high)`,
        );
      }
      const pred = addon.mfPredict(params, val.u, val.i);
      let se = 0;
      for (let k = 0; k < pred.length; k++) se += (pred[k] - val.r[k]) ** 2;
      const validationRmse = Math.sqrt(se / pred.length);
      const improved = best === null || validationRmse < best.rmse;
      if (improved) best = { params: cloneMfParams(params), epoch, rmse: validationRmse };
      const progress: MemberProgress = {
        epoch,
        trainRmse,
        validationRmse,
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
    member: new MfMember(best!.params, { ...s }),
    history,
    epochs: history.length,
    bestEpoch: best!.epoch,
    validationRmse: best!.rmse,
    seconds: (Date.now() - started) / 1000,
  };
}
