import type { MemberProgress, MemberTrainOptions, MemberTrainResult, TrainedMember } from './member';
import type { KindSettings } from './settings-table';
import { TrainingCancelledError, TrainingDivergedError } from './trainer';

/** What one epoch of a kernel reports. */
export interface EpochOutcome {
  sse: number;
  count: number;
  cancelled: boolean;
}

export interface EarlyStoppingRun<K> {
  /** Names the model kind in the divergence message. */
  kind: string;
  /** The schedule: epochs, patience, and the learning rate decayed by lrDecay after each epoch. */
  settings: Pick<KindSettings, 'maxEpochs' | 'patience' | 'lr' | 'lrDecay'>;
  /** Runs one epoch at learning rate `lr`; `cancel[0]` becomes 1 when the caller's signal aborts. */
  epoch(epoch: number, cancel: Int32Array, lr: number): Promise<EpochOutcome>;
  /** Whether every parameter is still finite after the epoch. */
  finite(): boolean;
  /** Validation RMSE of the parameters as they are now. */
  validate(): number;
  /** A copy of what must be kept of the best epoch. */
  keep(): K;
  /** The member built from the best epoch's copy. */
  member(best: K): TrainedMember;
}

/**
 * The loop every native member kind trains with: epochs until `patience` epochs pass without a
 * better validation RMSE, keeping the best epoch's parameters. Cancellation (the signal)
 * throws TrainingCancelledError; a non-finite loss or parameters, or an error far beyond the
 * rating scale, throws TrainingDivergedError.
 */
export async function trainWithEarlyStopping<K>(run: EarlyStoppingRun<K>, opts: MemberTrainOptions): Promise<MemberTrainResult> {
  const cancel = new Int32Array(1);
  const onAbort = () => {
    cancel[0] = 1;
  };
  opts.signal?.addEventListener('abort', onAbort);
  const divergenceLimit = 100 * (opts.scale.max - opts.scale.min + 1);
  const started = Date.now();
  const history: MemberProgress[] = [];
  let best: { kept: K; epoch: number; rmse: number } | null = null;
  const s = run.settings;
  try {
    for (let epoch = 1; epoch <= s.maxEpochs; epoch++) {
      if (opts.signal?.aborted) throw new TrainingCancelledError();
      const t0 = Date.now();
      const res = await run.epoch(epoch, cancel, s.lr * Math.pow(s.lrDecay, epoch - 1));
      if (res.cancelled || opts.signal?.aborted) throw new TrainingCancelledError();
      const trainRmse = Math.sqrt(res.sse / Math.max(1, res.count));
      // Adaptive optimisers rarely reach Inf; an error far beyond the rating scale is divergence all the same.
      if (!Number.isFinite(res.sse) || trainRmse > divergenceLimit || !run.finite()) {
        throw new TrainingDivergedError(
          `${run.kind} training diverged in epoch ${epoch}: training RMSE ${trainRmse.toPrecision(3)} (learning rate ${s.lr} is probably too high)`,
        );
      }
      const rmse = run.validate();
      const improved = best === null || rmse < best.rmse;
      if (improved) best = { kept: run.keep(), epoch, rmse };
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
    member: run.member(best!.kept),
    history,
    epochs: history.length,
    bestEpoch: best!.epoch,
    validationRmse: best!.rmse,
    seconds: (Date.now() - started) / 1000,
  };
}
