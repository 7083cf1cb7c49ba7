import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { openDatabase } from '../db/open';
import { saveCheckpoint } from '../engine/checkpoint';
import { CodedError } from '../engine/coded-error';
import { fingerprint, size } from '../engine/dataset';
import type { Engine, EngineName } from '../engine/engine';
import { estimateTrainingBytes, formatBytes, resolveJobSettings, type DataShape, type JobSettings, type ModelChoice } from '../engine/job-settings';
import { ParamError } from '../engine/params';
import { memberKinds, type KindRegistry } from '../engine/kinds';
import { Predictor } from '../engine/predictor';
import { selectEngine } from '../engine/select';
import { summarize } from '../engine/summary';
import { trainEnsemble } from '../engine/train-ensemble';
import { TrainingCancelledError } from '../engine/trainer';
import type { ModelRegistry } from '../serving/registry';
import { promotionDecision } from './gate';
import type { Job, JobProgress, JobsRepository } from './jobs-repository';
import type { ModelsRepository } from './models-repository';
import { readSnapshot } from './snapshot';

export const MIN_RATINGS_TO_TRAIN = 20;

/** The abort reason of a job stopped by JOB_TIME_LIMIT rather than by a user. */
const TIME_LIMIT = Symbol('job time limit');

export interface RunnerDeps {
  jobs: JobsRepository;
  models: ModelsRepository;
  registry: ModelRegistry;
  dataDir: string;
  scale: { min: number; max: number };
  engine: 'auto' | EngineName;
  threads: number;
  /** Jobs queued or running at once. */
  maxQueued: number;
  maxTrainMemoryBytes: number;
  timeLimitMs: number;
  /** The size of the data now stored, for the memory estimate at enqueue. */
  dataShape: () => DataShape;
  log: FastifyBaseLogger;
  onJobFinished?: (job: Job, seconds: number) => void;
}

export class JobStateError extends CodedError {
  readonly code = 'RECO_ERR_JOB_NOT_CANCELLABLE';
}

/** The queue holds as many jobs as the operator allows. */
export class QueueFullError extends CodedError {
  readonly code = 'RECO_ERR_QUEUE_FULL';
}

/** A job's params as posted: `model`, `engine` and training settings (see resolveJobSettings). */
export interface JobRequest {
  model?: ModelChoice;
  engine?: 'auto' | EngineName;
  [setting: string]: unknown;
}

/**
 * Runs training jobs one at a time, in order of submission. Each job moves
 * queued → running → succeeded | failed | cancelled; cancellation goes through an
 * AbortController that the trainer and the snapshot reader both watch.
 */
export class JobRunner {
  private running: { id: string; ctl: AbortController; done: Promise<void> } | null = null;
  private closed = false;
  private readonly log: FastifyBaseLogger;

  constructor(private readonly deps: RunnerDeps) {
    this.log = deps.log.child({ component: 'job-runner' });
  }

  start(): void {
    const n = this.deps.jobs.failInterrupted();
    if (n) this.log.warn({ count: n }, 'jobs left running by a previous process were marked failed');
    this.kick();
  }

  /** The engine for NNMF, the model kinds it makes available, and the job's checked settings. */
  private resolve(params: Record<string, unknown>): { engine: Engine; kinds: KindRegistry; settings: JobSettings } {
    const engine = selectEngine((params.engine as 'auto' | EngineName | undefined) ?? this.deps.engine);
    const kinds = memberKinds(engine);
    return { engine, kinds, settings: resolveJobSettings(params, kinds, this.deps.threads) };
  }

  /** Validates the settings now so that a bad request is a 400, not a failed job later. */
  enqueue(request: JobRequest, trigger = 'api'): Job {
    const { settings } = this.resolve(request);
    const pending = this.deps.jobs.pendingCount();
    if (pending >= this.deps.maxQueued) {
      throw new QueueFullError(`${pending} jobs are queued or running, the most allowed (MAX_QUEUED_JOBS); try again when one has finished`);
    }
    const shape = this.deps.dataShape();
    const need = estimateTrainingBytes(settings, shape);
    if (need > this.deps.maxTrainMemoryBytes) {
      throw new ParamError(
        `these settings would need about ${formatBytes(need)} to train on ${shape.ratings} ratings, more than MAX_TRAIN_MEMORY (${formatBytes(this.deps.maxTrainMemoryBytes)}); use smaller models`,
      );
    }
    const job = this.deps.jobs.create(request, trigger);
    this.log.info({ jobId: job.id, trigger }, 'job queued');
    setImmediate(() => this.kick());
    return job;
  }

  cancel(id: string): Job | null {
    const job = this.deps.jobs.get(id);
    if (!job) return null;
    if (job.status === 'queued') {
      if (this.deps.jobs.finish(id, 'cancelled', { error: 'cancelled before it started' })) {
        this.log.info({ jobId: id }, 'queued job cancelled');
      }
    } else if (job.status === 'running' && this.running?.id === id) {
      this.running.ctl.abort();
    } else if (job.status !== 'running') {
      throw new JobStateError(`job ${id} is already ${job.status}`);
    }
    return this.deps.jobs.get(id);
  }

  /** Resolves once the job (if it is the running one) has reached a final state. */
  async settled(id: string): Promise<void> {
    if (this.running?.id === id) await this.running.done;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.running) {
      this.running.ctl.abort();
      await this.running.done;
    }
  }

  private kick(): void {
    if (this.closed || this.running) return;
    const next = this.deps.jobs.nextQueued();
    if (!next || !this.deps.jobs.start(next.id)) return;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(TIME_LIMIT), this.deps.timeLimitMs);
    const done = this.execute(next, ctl.signal).finally(() => {
      clearTimeout(timer);
      this.running = null;
      setImmediate(() => this.kick());
    });
    this.running = { id: next.id, ctl, done };
  }

  private async execute(job: Job, signal: AbortSignal): Promise<void> {
    const log = this.log.child({ jobId: job.id });
    const started = Date.now();
    const { jobs } = this.deps;
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
      jobs.setProgress(job.id, progress);
    };
    try {
      log.info('job started');
      report();
      const { engine, kinds, settings } = this.resolve(job.params);

      const snapDb = openDatabase(this.deps.dataDir, { readonly: true });
      let snap;
      try {
        snap = await readSnapshot(snapDb, signal);
      } finally {
        snapDb.close();
      }
      if (signal.aborted) throw new TrainingCancelledError();
      const ds = snap.dataset;
      if (size(ds) < MIN_RATINGS_TO_TRAIN) {
        throw new Error(`not enough ratings to train: ${size(ds)} stored, at least ${MIN_RATINGS_TO_TRAIN} needed`);
      }
      log.info({ ratings: size(ds), users: ds.userIds.length, items: ds.itemIds.length, engine: engine.name, model: settings.model }, 'snapshot read');

      let bestEpoch = 0;
      let maxEpochs = 0;
      let patience = 0;
      const result = await trainEnsemble(ds, settings, kinds, {
        scale: this.deps.scale,
        signal,
        onMemberStart: (kind, k, of) => {
          const s = settings.members[k].settings as { maxEpochs: number; patience: number };
          ({ maxEpochs, patience } = s);
          bestEpoch = 0;
          progress.maxEpochs = maxEpochs;
          progress.epoch = 0;
          progress.members.push({ kind, epochs: 0, bestEpoch: 0, validationRmse: null, seconds: 0 });
          report(of > 1 ? `training ${kind} (${k + 1} of ${of})` : `training ${kind}`);
        },
        onEpoch: (kind, p) => {
          if (p.best) bestEpoch = p.epoch;
          const member = progress.members[progress.members.length - 1];
          Object.assign(member, { epochs: p.epoch, bestEpoch, validationRmse: p.best ? p.validationRmse : member.validationRmse, seconds: p.elapsedSeconds });
          progress.epoch = p.epoch;
          progress.trainLoss = p.trainRmse;
          progress.validationRmse = p.validationRmse;
          progress.history.push({ member: kind, epoch: p.epoch, trainRmse: p.trainRmse, validationRmse: p.validationRmse, seconds: p.seconds });
          // Early stopping ends the run at bestEpoch + patience at the soonest; estimate with that.
          const lastEpoch = Math.min(maxEpochs, Math.max(bestEpoch + patience, p.epoch + 1));
          progress.etaSeconds = p.epoch >= maxEpochs ? 0 : (lastEpoch - p.epoch) * (p.elapsedSeconds / p.epoch);
          report();
          log.debug({ member: kind, epoch: p.epoch, validationRmse: p.validationRmse }, 'epoch done');
        },
      });
      report('saving');

      const modelId = `mdl_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
      const evaluation = result.report;
      const metrics = {
        evaluationRmse: evaluation?.blend.rmse ?? null,
        evaluationMae: evaluation?.blend.mae ?? null,
        validationRmse: result.members.length === 1 ? result.members[0].validationRmse : null,
        evaluation,
        members: result.members.map(({ history: _h, ...m }) => m),
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
      const jobParams = { model: settings.model, ...job.params };
      const fields = {
        kind: settings.model,
        userIds: ds.userIds,
        itemIds: ds.itemIds,
        scale: this.deps.scale,
        summary: summarize(ds, result.buckets.train),
        engine: engine.name,
        params: jobParams,
        metrics,
        fingerprint: fingerprint(ds),
        buckets: settings.buckets,
        createdAt: new Date().toISOString(),
      };
      // Written under a temporary name and renamed, so a crash never leaves a half-written model in place.
      const modelsDir = this.deps.registry.modelsDir;
      fs.mkdirSync(modelsDir, { recursive: true });
      const tmp = path.join(modelsDir, `.tmp-${modelId}`);
      fs.rmSync(tmp, { recursive: true, force: true });
      const meta = await saveCheckpoint(tmp, result.model, fields);
      fs.renameSync(tmp, this.deps.registry.dirFor(modelId));
      this.deps.models.insert({
        id: modelId,
        jobId: job.id,
        kind: settings.model,
        engine: engine.name,
        params: jobParams,
        metrics,
        fingerprint: fields.fingerprint,
        dataVersion: snap.dataVersion,
        path: this.deps.registry.dirFor(modelId),
      });

      const fresh = new Predictor(modelId, meta, result.model);
      const decision = await promotionDecision(ds, result.buckets.evaluation, fresh, this.deps.registry.active, settings.buckets, this.deps.scale);
      if (decision.activated) await this.deps.registry.activate(modelId, fresh);
      jobs.finish(job.id, 'succeeded', { modelId, decision: { ...decision }, report: evaluation });
      log.info({ modelId, evaluationRmse: metrics.evaluationRmse, decision }, 'job succeeded');
    } catch (err) {
      if (this.closed) {
        // Stopped by shutdown, not by a user: the job did not finish, and nobody cancelled it.
        jobs.finish(job.id, 'failed', { error: 'interrupted: the service shut down while the job was running' });
        log.warn('job interrupted by shutdown');
      } else if (signal.aborted && signal.reason === TIME_LIMIT) {
        jobs.finish(job.id, 'failed', { error: `stopped at the job time limit (JOB_TIME_LIMIT, ${this.deps.timeLimitMs / 60_000} min)` });
        log.warn('job stopped at the time limit');
      } else if (signal.aborted || err instanceof TrainingCancelledError) {
        jobs.finish(job.id, 'cancelled', { error: 'cancelled while running' });
        log.info('job cancelled');
      } else {
        const message = err instanceof Error ? err.message : String(err);
        jobs.finish(job.id, 'failed', { error: message });
        log.error({ err }, 'job failed');
      }
    } finally {
      const final = jobs.get(job.id);
      if (final) this.deps.onJobFinished?.(final, (Date.now() - started) / 1000);
    }
  }
}
