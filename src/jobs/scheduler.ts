import type { FastifyBaseLogger } from 'fastify';
import type { JobsRepository } from './jobs-repository';
import type { ModelsRepository } from '../models/repository';
import type { JobRunner } from './runner';

export interface SchedulerDeps {
  jobs: JobsRepository;
  models: ModelsRepository;
  runner: JobRunner;
  dataVersion: () => number;
  log: FastifyBaseLogger;
}

/** Enqueues a retraining when the ratings changed since the active model was trained, and only then. */
export class RetrainScheduler {
  private timer: NodeJS.Timeout | null = null;
  private readonly log: FastifyBaseLogger;

  constructor(
    private readonly intervalMs: number,
    private readonly deps: SchedulerDeps,
  ) {
    this.log = deps.log.child({ component: 'scheduler' });
  }

  start(): void {
    this.timer = setInterval(() => {
      // A refused job (queue full, settings too large for the data now) must not end the process.
      try {
        this.tick();
      } catch (err) {
        this.log.error({ err }, 'scheduled retraining could not be enqueued');
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One scheduling decision; returns what it did. */
  tick(): 'enqueued' | 'unchanged' | 'busy' {
    if (this.deps.jobs.pendingCount() > 0) return 'busy';
    // The newest model counts too: a model that was trained but not activated already covers this data.
    const known = [this.deps.models.active(), this.deps.models.list(1, 0)[0]];
    const version = this.deps.dataVersion();
    if (known.some((m) => m && m.dataVersion === version)) {
      this.log.debug({ dataVersion: version }, 'ratings unchanged since the active model; no retraining');
      return 'unchanged';
    }
    if (version === 0) return 'unchanged';
    const job = this.deps.runner.enqueue({}, 'schedule');
    this.log.info({ jobId: job.id, dataVersion: version }, 'scheduled retraining enqueued');
    return 'enqueued';
  }
}
