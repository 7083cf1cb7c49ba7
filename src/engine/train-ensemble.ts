import { fitBiases, predictBiases } from './baselines';
import { assignBuckets, type Buckets } from './buckets';
import type { Dataset } from './dataset';
import { Ensemble, fitBlend, IDENTITY_BLEND } from './ensemble';
import { metrics } from './evaluate';
import type { JobSettings } from './job-settings';
import type { KindRegistry } from './kinds';
import type { MemberKindName, MemberProgress, MemberSplit, TrainedMember } from './member';
import { predictInSlices } from './slices';
import { heldOut, TrainingCancelledError } from './trainer';

export interface Score {
  rmse: number;
  mae: number;
}

/**
 * Every model's figures on the evaluation bucket (ratings that no model trained or was
 * selected on), clipped to the rating scale as served, next to the baselines, so that a
 * report shows what each member and the blend add.
 */
export interface EvaluationReport {
  count: number;
  baselines: { globalMean: Score; bias: Score };
  /** By member label (Ensemble.labels): the kind, `nnmf-2` for NNMF's second network. */
  members: Record<string, Score>;
  blend: Score;
}

export interface MemberSummary {
  kind: MemberKindName;
  epochs: number;
  bestEpoch: number;
  validationRmse: number;
  seconds: number;
  history: MemberProgress[];
}

export interface EnsembleTrainResult {
  model: Ensemble;
  buckets: Buckets;
  members: MemberSummary[];
  /** Null when the evaluation bucket is empty (evaluationFraction 0 or very little data). */
  report: EvaluationReport | null;
  seconds: number;
}

export interface EnsembleTrainOptions {
  scale: { min: number; max: number };
  signal?: AbortSignal;
  onMemberStart?: (kind: MemberKindName, index: number, of: number) => void;
  onEpoch?: (kind: MemberKindName, p: MemberProgress) => void;
}

/**
 * Splits the ratings into stable buckets, trains the members on the training bucket with early
 * stopping and blend weights on the validation bucket, and reports every model and the
 * baselines on the evaluation bucket.
 */
export async function trainEnsemble(
  ds: Dataset,
  settings: JobSettings,
  kinds: KindRegistry,
  opts: EnsembleTrainOptions,
): Promise<EnsembleTrainResult> {
  const started = Date.now();
  const buckets = assignBuckets(ds, settings.buckets);
  if (buckets.train.length === 0 || buckets.validation.length === 0)
    throw new Error('not enough ratings to train: the training or validation bucket is empty');
  const { model, members } = await trainMembers(ds, buckets, settings, kinds, opts);
  return { model, buckets, members, report: await evaluationReport(ds, buckets, model, opts.scale), seconds: (Date.now() - started) / 1000 };
}

/** Trains each member on split.train (early stopping on split.validation) and fits their blend on split.validation. */
export async function trainMembers(
  ds: Dataset,
  split: MemberSplit,
  settings: Pick<JobSettings, 'members' | 'threads'>,
  kinds: KindRegistry,
  opts: EnsembleTrainOptions,
): Promise<{ model: Ensemble; members: MemberSummary[] }> {
  const members: TrainedMember[] = [];
  const summaries: MemberSummary[] = [];
  for (const [k, m] of settings.members.entries()) {
    if (opts.signal?.aborted) throw new TrainingCancelledError();
    opts.onMemberStart?.(m.kind, k, settings.members.length);
    const res = await kinds.get(m.kind)!.train(ds, { train: split.train, validation: split.validation }, m.settings, {
      scale: opts.scale,
      threads: settings.threads,
      signal: opts.signal,
      onEpoch: (p) => opts.onEpoch?.(m.kind, p),
    });
    members.push(res.member);
    summaries.push({
      kind: m.kind,
      epochs: res.epochs,
      bestEpoch: res.bestEpoch,
      validationRmse: res.validationRmse,
      seconds: res.seconds,
      history: res.history,
    });
  }
  return { model: await blendMembers(ds, split.validation, members, opts.scale), members: summaries };
}

/** The members with blend weights fitted on the ratings at `validation` (one member as it is). */
export async function blendMembers(
  ds: Dataset,
  validation: Int32Array,
  members: TrainedMember[],
  scale: { min: number; max: number },
): Promise<Ensemble> {
  if (members.length === 1) return new Ensemble(members, IDENTITY_BLEND, scale);
  const val = heldOut(ds, validation);
  const preds = [];
  for (const m of members) preds.push(await predictInSlices((u, i) => m.predict(u, i), val.u, val.i));
  return new Ensemble(members, fitBlend(preds, val.r, scale), scale);
}

async function evaluationReport(
  ds: Dataset,
  buckets: Buckets,
  model: Ensemble,
  scale: { min: number; max: number },
): Promise<EvaluationReport | null> {
  if (buckets.evaluation.length === 0) return null;
  const ev = heldOut(ds, buckets.evaluation);
  const score = (pred: Float32Array): Score => {
    const m = metrics(pred, ev.r, scale.min, scale.max);
    return { rmse: m.rmseClipped, mae: m.mae };
  };
  const biases = fitBiases(ds, buckets.train);
  const memberScores: EvaluationReport['members'] = {};
  const labels = model.labels;
  for (const [k, m] of model.members.entries()) memberScores[labels[k]] = score(await predictInSlices((u, i) => m.predict(u, i), ev.u, ev.i));
  return {
    count: ev.r.length,
    baselines: { globalMean: score(new Float32Array(ev.r.length).fill(biases.globalMean)), bias: score(predictBiases(biases, ev.u, ev.i)) },
    members: memberScores,
    blend: score(await predictInSlices((u, i) => model.predict(u, i), ev.u, ev.i)),
  };
}
