import { openDatabase } from '../db/open';
import type { BucketScheme } from '../engine/buckets';
import { fingerprint, size, type Dataset } from '../engine/dataset';
import { memberLabels } from '../engine/ensemble';
import { memberKinds } from '../engine/kinds';
import { Predictor } from '../engine/predictor';
import { selectEngine } from '../engine/select';
import { summarize } from '../engine/summary';
import { trainEnsemble } from '../engine/train-ensemble';
import { TrainingCancelledError } from '../engine/trainer';
import { promotionDecision, type PromotionDecision } from '../models/gate';
import { CheckpointStore } from '../models/store';
import { packModel } from '../models/transfer';
import type { JobProgress } from './jobs-repository';
import type { JobResult, LogLevel, TrainingThreadData } from './protocol';
import { resolveJob } from './resolve';
import { readSnapshot } from './snapshot';

export const MIN_RATINGS_TO_TRAIN = 20;

/** How the job body reports to whoever runs it (the training thread posts these to the request thread). */
export interface JobIo {
  progress(p: JobProgress): void;
  log(level: LogLevel, fields: Record<string, unknown>, msg: string): void;
  /** The model served now, for the gate. */
  activeModelId(): Promise<string | null>;
}

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The whole of a training job but its bookkeeping: reads a snapshot of the ratings on a
 * read-only connection of its own, trains, writes the checkpoint, and judges the new model
 * against the active one (loaded from its checkpoint) on the evaluation bucket. Runs in the
 * training thread; returns the model with its weights packed for the request thread.
 */
export async function trainJob(data: TrainingThreadData, signal: AbortSignal, io: JobIo): Promise<{ result: JobResult; transfer: ArrayBuffer[] }> {
  const started = Date.now();
  const progress: JobProgress = {
    epoch: 0,
    maxEpochs: 0,
    trainLoss: null,
    validationRmse: null,
    history: [],
    members: [],
    elapsedSeconds: 0,
    etaSeconds: null,
    phase: 'snapshot',
  };
  const report = (phase?: string) => {
    if (phase) progress.phase = phase;
    progress.elapsedSeconds = (Date.now() - started) / 1000;
    io.progress(progress);
  };
  const checkAborted = () => {
    if (signal.aborted) throw new TrainingCancelledError();
  };
  report();
  const { engine, kinds, settings } = resolveJob(data.params, data.engine, data.threads);

  const snapDb = openDatabase(data.dataDir, { readonly: true });
  let snap;
  try {
    snap = await readSnapshot(snapDb, signal);
  } finally {
    snapDb.close();
  }
  checkAborted();
  const ds = snap.dataset;
  if (size(ds) < MIN_RATINGS_TO_TRAIN) {
    throw new Error(`not enough ratings to train: ${size(ds)} stored, at least ${MIN_RATINGS_TO_TRAIN} needed`);
  }
  io.log(
    'info',
    { ratings: size(ds), users: ds.userIds.length, items: ds.itemIds.length, engine: engine.name, model: settings.model },
    'snapshot read',
  );

  let bestEpoch = 0;
  let maxEpochs = 0;
  let patience = 0;
  // Curves and status lines name each member as reports do (NNMF's second network is nnmf-2).
  const labels = memberLabels(settings.members.map((m) => m.kind));
  const result = await trainEnsemble(ds, settings, kinds, {
    scale: data.scale,
    signal,
    onMemberStart: (kind, k, of) => {
      const s = settings.members[k].settings as { maxEpochs: number; patience: number };
      ({ maxEpochs, patience } = s);
      const label = labels[k];
      bestEpoch = 0;
      progress.maxEpochs = maxEpochs;
      progress.epoch = 0;
      progress.members.push({ kind, label, epochs: 0, bestEpoch: 0, validationRmse: null, seconds: 0 });
      report(of > 1 ? `training ${label} (${k + 1} of ${of})` : `training ${kind}`);
    },
    onEpoch: (_kind, p) => {
      if (p.best) bestEpoch = p.epoch;
      const member = progress.members[progress.members.length - 1];
      Object.assign(member, {
        epochs: p.epoch,
        bestEpoch,
        validationRmse: p.best ? p.validationRmse : member.validationRmse,
        seconds: p.elapsedSeconds,
      });
      progress.epoch = p.epoch;
      progress.trainLoss = p.trainRmse;
      progress.validationRmse = p.validationRmse;
      progress.history.push({ member: member.label, epoch: p.epoch, trainRmse: p.trainRmse, validationRmse: p.validationRmse, seconds: p.seconds });
      // Early stopping ends the run at bestEpoch + patience at the soonest; estimate with that.
      const lastEpoch = Math.min(maxEpochs, Math.max(bestEpoch + patience, p.epoch + 1));
      progress.etaSeconds = p.epoch >= maxEpochs ? 0 : (lastEpoch - p.epoch) * (p.elapsedSeconds / p.epoch);
      report();
      io.log('debug', { member: member.label, epoch: p.epoch, validationRmse: p.validationRmse }, 'epoch done');
    },
  });
  checkAborted();
  report('saving');

  const store = new CheckpointStore(data.modelsDir);
  const modelId = CheckpointStore.newModelId();
  const evaluation = result.report;
  const metrics = {
    evaluationRmse: evaluation?.blend.rmse ?? null,
    evaluationMae: evaluation?.blend.mae ?? null,
    validationRmse: result.members.length === 1 ? result.members[0].validationRmse : null,
    evaluation,
    members: result.members.map(({ history: _h, ...m }, k) => ({ ...m, label: labels[k] })),
    blend: result.model.blend,
    trainSeconds: result.seconds,
    threads: settings.threads,
    counts: {
      train: result.buckets.train.length,
      validation: result.buckets.validation.length,
      evaluation: result.buckets.evaluation.length,
      users: ds.userIds.length,
      items: ds.itemIds.length,
    },
  };
  const jobParams = { model: settings.model, ...data.params };
  const fields = {
    kind: settings.model,
    userIds: ds.userIds,
    itemIds: ds.itemIds,
    scale: data.scale,
    summary: summarize(ds, result.buckets.train),
    engine: engine.name,
    params: jobParams,
    metrics,
    fingerprint: fingerprint(ds),
    buckets: settings.buckets,
    createdAt: new Date().toISOString(),
  };
  const meta = await store.write(modelId, result.model, fields);
  try {
    checkAborted();
    report('evaluating');
    const fresh = new Predictor(modelId, meta, result.model);
    const decision = await gate(ds, result.buckets.evaluation, fresh, settings.buckets);
    checkAborted();
    const { packed, transfer } = packModel(modelId, meta, result.model);
    return {
      result: {
        model: packed,
        record: {
          kind: settings.model,
          engine: engine.name,
          params: jobParams,
          metrics,
          fingerprint: fields.fingerprint,
          dataVersion: snap.dataVersion,
        },
        decision,
        report: evaluation,
      },
      transfer,
    };
  } catch (err) {
    // Not recorded: no folder may outlive the job.
    store.remove(modelId);
    throw err;
  }

  /** The promotion gate against the model active now, loaded from its verified checkpoint. */
  async function gate(dataset: Dataset, positions: Int32Array, fresh: Predictor, scheme: BucketScheme): Promise<PromotionDecision> {
    const activeId = await io.activeModelId();
    let active: Predictor | null = null;
    if (activeId !== null) {
      try {
        active = await store.load(activeId, memberKinds(selectEngine(data.servingEngine), 'serve'));
      } catch (err) {
        io.log('error', { activeModelId: activeId, err: reasonOf(err) }, 'the active model could not be loaded for the promotion gate');
        return {
          activated: true,
          reason: `the active model's checkpoint could not be loaded to compare (${reasonOf(err)}): the new model is served`,
          evaluationCount: positions.length,
          newModelRmse: null,
          activeModelId: activeId,
          activeModelRmse: null,
          fair: false,
        };
      }
    }
    return promotionDecision(dataset, positions, fresh, active, scheme, data.scale);
  }
}
