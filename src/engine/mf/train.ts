import type { Dataset } from '../dataset';
import { trainWithEarlyStopping } from '../early-stopping';
import { metrics } from '../evaluate';
import type { MemberSplit, MemberTrainOptions, MemberTrainResult } from '../member';
import { Rng } from '../rng';
import { heldOut } from '../trainer';
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
  const val = heldOut(ds, split.validation);
  const rng = new Rng(s.seed + 1);
  let step = 0;
  return trainWithEarlyStopping(
    {
      kind: 'mf',
      settings: s,
      epoch: async (_epoch, cancel, lr) => {
        const order = await rng.shuffleInSlices(split.train.slice());
        const res = await addon.mfTrainEpoch(
          model,
          { u: ds.u, i: ds.i, r: ds.r, order },
          {
            batchSize: s.batchSize,
            lr,
            lambda: s.lambda,
            lambdaBias: s.lambdaBias,
            optimizer: s.optimizer === 'adam' ? 1 : 0,
            step,
            threads: s.threads || opts.threads,
            cancel,
          },
        );
        step = res.step;
        return res;
      },
      finite: () => mfParamsFinite(params),
      validate: () => metrics(addon.mfPredict(params, val.u, val.i), val.r, opts.scale.min, opts.scale.max).rmse,
      keep: () => cloneMfParams(params),
      member: (best: MfParams) => new MfMember(best, { ...s }),
    },
    opts,
  );
}
