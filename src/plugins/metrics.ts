import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServiceMetrics {
  registry: Registry;
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
    const latency = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Request latency by route',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    });
    const jobDuration = new Histogram({
      name: 'training_job_duration_seconds',
      help: 'Training job wall time by outcome',
      labelNames: ['status'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    });
    const jobs = new Counter({ name: 'training_jobs_total', help: 'Finished training jobs by outcome', labelNames: ['status'], registers: [registry] });
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
    // One labelled child per (method, route, status), looked up by a plain string key: prom-client
    // would otherwise hash the label object on every request.
    const children = new Map<string, ReturnType<typeof latency.labels>>();
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const key = `${request.method} ${reply.statusCode} ${route}`;
      let child = children.get(key);
      if (!child) {
        child = latency.labels({ method: request.method, route, status_code: String(reply.statusCode) });
        children.set(key, child);
      }
      child.observe(reply.elapsedTime / 1000);
      done();
    });
    app.decorate('metrics', {
      registry,
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
