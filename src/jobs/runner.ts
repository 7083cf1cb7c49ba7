import type { FastifyBaseLogger } from 'fastify';
import { CodedError } from '../engine/coded-error';
import type { EngineName } from '../engine/engine';
import { estimateTrainingBytes, formatBytes, type DataShape, type ModelChoice } from '../engine/job-settings';
import { ParamError } from '../engine/params';
import type { ModelsRepository } from '../models/repository';
import type { CheckpointStore } from '../models/store';
import { predictorFrom } from '../models/transfer';
import type { ModelRegistry } from '../serving/registry';
import type { Job, JobsRepository } from './jobs-repository';
import type { JobResult } from './protocol';
import { returnFreedMemory } from '../threads';
import { resolveJob } from './resolve';
import { runTrainingThread, ThreadAbortedError, type ThreadOptions } from './thread';

/** How long a training thread asked to stop (cancel, time limit, shutdown) may take before it is terminated. */
const STOP_GRACE_MS = 30_000;

/** The abort reason of a job stopped by JOB_TIME_LIMIT rather than by a user. */
const TIME_LIMIT = Symbol('job time limit');

export interface RunnerDeps {
  jobs: JobsRepository;
  models: ModelsRepository;
  registry: ModelRegistry;
  store: CheckpointStore;
  dataDir: string;
  scale: { min: number; max: number };
  engine: 'auto' | EngineName;
  /** The engine the server loads checkpoints with (the gate loads the active model the same way). */
  servingEngine: EngineName;
  threads: number;
  /** Jobs queued or running at once. */
  maxQueued: number;
  maxTrainMemoryBytes: number;
  timeLimitMs: number;
  /** The size of the data now stored, for the memory estimate at enqueue. */
  dataShape: () => DataShape;
  log: FastifyBaseLogger;
  onJobFinished?: (job: Job, seconds: number) => void;
  /** Options of the training threads (heap limits). */
  thread?: Omit<ThreadOptions, 'stopGraceMs'>;
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

  /** Validates the settings now so that a bad request is a 400, not a failed job later. */
  enqueue(request: JobRequest, trigger = 'api'): Job {
    const { settings } = resolveJob(request, this.deps.engine, this.deps.threads);
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

  /** Resolves once no job is running and the look for a next queued one that follows a job has been made. */
  async idle(): Promise<void> {
    while (this.running) await this.running.done;
    // The finished job's finally queued its kick with setImmediate before this one.
    await new Promise((resolve) => setImmediate(resolve));
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
    const { jobs, store } = this.deps;
    try {
      log.info('job started');
      const result = await runTrainingThread(
        {
          jobId: job.id,
          params: job.params,
          dataDir: this.deps.dataDir,
          modelsDir: store.modelsDir,
          scale: this.deps.scale,
          engine: this.deps.engine,
          servingEngine: this.deps.servingEngine,
          threads: this.deps.threads,
        },
        signal,
        {
          progress: (p) => jobs.setProgress(job.id, p),
          log: (level, fields, msg) => log[level](fields, msg),
          activeModelId: () => this.deps.registry.active?.modelId ?? null,
        },
        { stopGraceMs: STOP_GRACE_MS, ...this.deps.thread },
      );
      await this.record(job, result, signal);
      log.info({ modelId: result.model.modelId, evaluationRmse: result.record.metrics.evaluationRmse, decision: result.decision }, 'job succeeded');
    } catch (err) {
      if (this.closed) {
        // Stopped by shutdown, not by a user: the job did not finish, and nobody cancelled it.
        jobs.finish(job.id, 'failed', { error: 'interrupted: the service shut down while the job was running' });
        log.warn('job interrupted by shutdown');
      } else if (signal.aborted && signal.reason === TIME_LIMIT) {
        jobs.finish(job.id, 'failed', { error: `stopped at the job time limit (JOB_TIME_LIMIT, ${this.deps.timeLimitMs / 60_000} min)` });
        log.warn('job stopped at the time limit');
      } else if (signal.aborted || err instanceof ThreadAbortedError) {
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
      // The training thread has ended: what it freed goes back to the system.
      void returnFreedMemory();
    }
  }

  /**
   * On the request thread, the end of a job: the model's row, and when the gate says so the
   * served reference swapped to a predictor over the weights the training thread handed over
   * (no file is read or hashed again). A job stopped meanwhile records nothing and its folder goes.
   */
  private async record(job: Job, result: JobResult, signal: AbortSignal): Promise<void> {
    const { store } = this.deps;
    const { modelId } = result.model;
    try {
      const predictor = result.decision.activated ? await predictorFrom(result.model) : null;
      if (signal.aborted) throw new ThreadAbortedError('stopped before its model was recorded');
      this.deps.models.insert({ id: modelId, jobId: job.id, path: store.dirFor(modelId), ...result.record });
      if (predictor) await this.deps.registry.activate(modelId, predictor);
    } catch (err) {
      if (!this.deps.models.get(modelId)) store.remove(modelId);
      throw err;
    }
    this.deps.jobs.finish(job.id, 'succeeded', { modelId, decision: { ...result.decision }, report: result.report });
  }
}
