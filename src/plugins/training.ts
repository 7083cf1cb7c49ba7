import path from 'node:path';
import fp from 'fastify-plugin';
import type { EngineName } from '../engine/engine';
import { selectEngine } from '../engine/select';
import { JobsRepository } from '../jobs/jobs-repository';
import { ModelsRepository } from '../models/repository';
import { CheckpointStore } from '../models/store';
import { JobRunner } from '../jobs/runner';
import { RetrainScheduler } from '../jobs/scheduler';
import { ModelRegistry } from '../serving/registry';

declare module 'fastify' {
  interface FastifyInstance {
    jobs: JobsRepository;
    models: ModelsRepository;
    registry: ModelRegistry;
    runner: JobRunner;
  }
}

export interface TrainingOptions {
  dataDir: string;
  scale: { min: number; max: number };
  engine: 'auto' | EngineName;
  threads: number;
  retrainIntervalMs: number | null;
  maxQueuedJobs: number;
  maxTrainMemoryBytes: number;
  jobTimeLimitMs: number;
}

/** The model registry, the job runner and the retraining schedule, started with the app and stopped before the database closes. */
export default fp(
  async (app, opts: TrainingOptions) => {
    const jobs = new JobsRepository(app.db);
    const models = new ModelsRepository(app.db);
    const servingEngine = selectEngine(opts.engine === 'tfjs' ? 'tfjs' : 'auto');
    const store = new CheckpointStore(path.join(opts.dataDir, 'models'));
    const leftovers = store.removeLeftovers();
    if (leftovers.length) app.log.warn({ removed: leftovers }, 'removed checkpoint folders left half-written by an earlier process');
    const registry = new ModelRegistry(models, store, servingEngine.name, app.log.child({ component: 'registry' }));
    registry.onActivate((p) => {
      const m = models.get(p.modelId);
      app.metrics.setActiveModel((m?.metrics.evaluationRmse as number | null) ?? (m?.metrics.validationRmse as number | null) ?? null);
    });
    await registry.loadActive();
    const runner = new JobRunner({
      jobs,
      models,
      registry,
      store,
      dataDir: opts.dataDir,
      scale: opts.scale,
      engine: opts.engine,
      servingEngine: servingEngine.name,
      threads: opts.threads,
      maxQueued: opts.maxQueuedJobs,
      maxTrainMemoryBytes: opts.maxTrainMemoryBytes,
      timeLimitMs: opts.jobTimeLimitMs,
      dataShape: () => app.ratings.stats(),
      log: app.log,
      onJobFinished: (job, seconds) => app.metrics.jobFinished(job.status, seconds),
    });
    const scheduler = opts.retrainIntervalMs
      ? new RetrainScheduler(opts.retrainIntervalMs, { jobs, models, runner, dataVersion: () => app.ratings.dataVersion(), log: app.log })
      : null;
    app.decorate('jobs', jobs);
    app.decorate('models', models);
    app.decorate('registry', registry);
    app.decorate('runner', runner);
    app.addHook('onReady', async () => {
      runner.start();
      scheduler?.start();
    });
    // preClose runs before any onClose hook, so training stops while the database is still open.
    app.addHook('preClose', async () => {
      scheduler?.stop();
      await runner.close();
    });
  },
  { name: 'training', dependencies: ['database', 'metrics'] },
);
