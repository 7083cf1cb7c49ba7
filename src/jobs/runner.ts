import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { openDatabase } from '../db/open';
import { fingerprint, size } from '../engine/dataset';
import type { EngineName } from '../engine/engine';
import { metrics as computeMetrics } from '../engine/evaluate';
import { resolveParams, type TrainParams } from '../engine/params';
import { checkpointMeta, saveCheckpoint } from '../engine/checkpoint';
import { Predictor } from '../engine/predictor';
import { selectEngine } from '../engine/select';
import { summarize } from '../engine/summary';
import { train, TrainingCancelledError, type EpochProgress } from '../engine/trainer';
import type { ModelRegistry } from '../serving/registry';
import type { Job, JobProgress, JobsRepository } from './jobs-repository';
import type { ModelsRepository } from './models-repository';
import { readSnapshot } from './snapshot';

export const MIN_RATINGS_TO_TRAIN = 20;

export interface RunnerDeps {
  jobs: JobsRepository;
  models: ModelsRepository;
  registry: ModelRegistry;
  dataDir: string;
  scale: { min: number; max: number };
  engine: 'auto' | EngineName;
  threads: number;
  log: FastifyBaseLogger;
  onJobFinished?: (job: Job, seconds: number) => void;
}

export class JobStateError extends Error {}

export interface JobRequest {
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

  /** Validates the settings now so that a bad request is a 400, not a failed job later. */
  enqueue(request: JobRequest, trigger = 'api'): Job {
    const { engine, ...settings } = request;
    resolveParams({ threads: this.deps.threads, ...settings });
    if (engine !== undefined && engine !== 'auto') selectEngine(engine);
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
    const done = this.execute(next, ctl.signal).finally(() => {
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
      const { engine: engineChoice, ...settings } = job.params as JobRequest;
      const params: TrainParams = resolveParams({ threads: this.deps.threads, ...settings });
      const engine = selectEngine(engineChoice ?? this.deps.engine);
      progress.maxEpochs = params.maxEpochs;

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
      log.info({ ratings: size(ds), users: ds.userIds.length, items: ds.itemIds.length, engine: engine.name }, 'snapshot read');
      report('training');

      let bestEpoch = 0;
      const result = await train(ds, {
        engine,
        params,
        scale: this.deps.scale,
        signal,
        onEpoch: (p: EpochProgress) => {
          if (p.best) bestEpoch = p.epoch;
          progress.epoch = p.epoch;
          progress.trainLoss = p.trainRmse;
          progress.validationRmse = p.validationRmse;
          progress.history.push({ epoch: p.epoch, trainRmse: p.trainRmse, validationRmse: p.validationRmse, seconds: p.seconds });
          // Early stopping ends the run at bestEpoch + patience at the soonest; estimate with that.
          const lastEpoch = Math.min(params.maxEpochs, Math.max(bestEpoch + params.patience, p.epoch + 1));
          progress.etaSeconds = p.epoch >= params.maxEpochs ? 0 : (lastEpoch - p.epoch) * (p.elapsedSeconds / p.epoch);
          report();
          log.debug({ epoch: p.epoch, validationRmse: p.validationRmse }, 'epoch done');
        },
      });
      report('saving');

      const modelId = `mdl_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
      const fp = fingerprint(ds);
      const summary = summarize(ds, result.split.train);
      const metrics = {
        validationRmse: result.validation.rmseClipped,
        validationRmseUnclipped: result.validation.rmse,
        testRmse: result.test?.rmseClipped ?? null,
        testRmseUnclipped: result.test?.rmse ?? null,
        testMae: result.test?.mae ?? null,
        epochs: result.epochs,
        bestEpoch: result.bestEpoch,
        trainSeconds: result.seconds,
        counts: result.counts,
      };
      const meta = {
        userIds: ds.userIds,
        itemIds: ds.itemIds,
        scale: this.deps.scale,
        summary,
        engine: engine.name,
        params: params as unknown as Record<string, unknown>,
        metrics,
        fingerprint: fp,
        createdAt: new Date().toISOString(),
      };
      // Written under a temporary name and renamed, so a crash never leaves a half-written model in place.
      const modelsDir = this.deps.registry.modelsDir;
      fs.mkdirSync(modelsDir, { recursive: true });
      const tmp = path.join(modelsDir, `.tmp-${modelId}`);
      fs.rmSync(tmp, { recursive: true, force: true });
      await saveCheckpoint(tmp, result.params, meta);
      fs.renameSync(tmp, this.deps.registry.dirFor(modelId));
      this.deps.models.insert({
        id: modelId,
        jobId: job.id,
        engine: engine.name,
        params: params as unknown as Record<string, unknown>,
        metrics,
        fingerprint: fp,
        dataVersion: snap.dataVersion,
        path: this.deps.registry.dirFor(modelId),
      });

      // Judge the new model and the active one on the same held-out ratings (test split, else validation).
      const held = result.split.test.length ? result.split.test : result.split.validation;
      const pairs = Array.from(held, (p) => ({ userId: ds.userIds[ds.u[p]], itemId: ds.itemIds[ds.i[p]] }));
      const truth = Float32Array.from(held, (p) => ds.r[p]);
      const fresh = new Predictor(modelId, checkpointMeta(result.params, meta), result.params, engine);
      const rmseOf = (pr: Predictor) =>
        computeMetrics(Float32Array.from(pr.predict(pairs), (x) => x.rating), truth, this.deps.scale.min, this.deps.scale.max).rmseClipped;
      const active = this.deps.registry.active;
      const newRmse = rmseOf(fresh);
      const activeRmse = active ? rmseOf(active) : null;
      const activate = activeRmse === null || newRmse <= activeRmse;
      const decision = {
        activated: activate,
        reason: active ? (activate ? 'at least as good as the active model' : 'worse than the active model') : 'no active model',
        heldOutCount: held.length,
        newModelRmse: newRmse,
        activeModelId: active?.modelId ?? null,
        activeModelRmse: activeRmse,
      };
      if (activate) await this.deps.registry.activate(modelId, fresh);
      jobs.finish(job.id, 'succeeded', { modelId, decision });
      log.info({ modelId, testRmse: metrics.testRmse, decision }, 'job succeeded');
    } catch (err) {
      if (this.closed) {
        // Stopped by shutdown, not by a user: the job did not finish, and nobody cancelled it.
        jobs.finish(job.id, 'failed', { error: 'interrupted: the service shut down while the job was running' });
        log.warn('job interrupted by shutdown');
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
