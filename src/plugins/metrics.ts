import type { FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LatencyHistogram, type RouteLatency } from './latency-histogram';

export interface ServiceMetrics {
  registry: Registry;
  /** Prometheus text exposition of every metric. */
  render(): Promise<string>;
  /** Records a request that matched no route. */
  notFound(request: FastifyRequest, reply: FastifyReply): void;
  jobFinished(status: string, seconds: number): void;
  setActiveModel(rmse: number | null): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ServiceMetrics;
  }
}

/** Prometheus metrics in a registry of this app's own, so that several apps in one process do not collide. */
export default fp(
  async (app) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const latency = new LatencyHistogram(
      'http_request_duration_seconds',
      'Request latency by route',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    );
    // Every route registered after this plugin gets its own recorder and onResponse hook, so a
    // request never looks up its route's labels.
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        const recorder = latency.route(method, route.url);
        const hook: onResponseHookHandler = (_request, reply, done) => {
          recorder.observe(reply.statusCode, reply.elapsedTime / 1000);
          done();
        };
        const existing = route.onResponse ? (Array.isArray(route.onResponse) ? route.onResponse : [route.onResponse]) : [];
        route.onResponse = [...existing, hook];
      }
    });
    const unmatched = new Map<string, RouteLatency>();
    const jobDuration = new Histogram({
      name: 'training_job_duration_seconds',
      help: 'Training job wall time by outcome',
      labelNames: ['status'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    });
    const jobs = new Counter({
      name: 'training_jobs_total',
      help: 'Finished training jobs by outcome',
      labelNames: ['status'],
      registers: [registry],
    });
    const modelRmse = new Gauge({ name: 'active_model_test_rmse', help: 'Held-out RMSE of the active model (NaN when none)', registers: [registry] });
    modelRmse.set(Number.NaN);
    new Gauge({
      name: 'store_entities',
      help: 'Stored users, items and ratings',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        const s = app.ratings.stats();
        this.set({ kind: 'users' }, s.users);
        this.set({ kind: 'items' }, s.items);
        this.set({ kind: 'ratings' }, s.ratings);
      },
    });
    app.decorate('metrics', {
      registry,
      render: async () => (await registry.metrics()) + latency.render(),
      notFound(request, reply) {
        let recorder = unmatched.get(request.method);
        if (!recorder) unmatched.set(request.method, (recorder = latency.route(request.method, 'unmatched')));
        recorder.observe(reply.statusCode, reply.elapsedTime / 1000);
      },
      jobFinished(status: string, seconds: number) {
        jobs.inc({ status });
        jobDuration.observe({ status }, seconds);
      },
      setActiveModel(rmse: number | null) {
        modelRmse.set(rmse ?? Number.NaN);
      },
    });
  },
  { name: 'metrics', dependencies: ['database'] },
);
