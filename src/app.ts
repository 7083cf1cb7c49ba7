import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { Config } from './config';
import { errorHandler, notFoundHandler } from './errors';
import { childLoggerFactory, requestIdGenerator } from './request-logger';
import auth from './plugins/auth';
import database from './plugins/database';
import openapi from './plugins/openapi';
import health from './routes/health';
import ratings from './routes/ratings';
import users from './routes/users';
import items from './routes/items';
import stats from './routes/stats';
import metricsPlugin from './plugins/metrics';
import training from './plugins/training';
import jobs from './routes/jobs';
import models from './routes/models';
import predict from './routes/predict';
import recommendations from './routes/recommendations';
import metrics from './routes/metrics';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, for the contract test and the spec writer. */
    routeList: { method: string; url: string; hidden: boolean }[];
  }
}

export interface AppOptions {
  config: Config;
  /** pino options, or false for silence (tests). */
  logger?: FastifyServerOptions['logger'];
}

function makeAjv(coerce: boolean): Ajv {
  // Bodies are never coerced: "4" is not a rating. Query strings and path parameters are text and need it.
  const ajv = new Ajv({ coerceTypes: coerce ? 'array' : false, useDefaults: true, removeAdditional: false, strict: false, allErrors: false });
  addFormats(ajv);
  return ajv;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel, redact: ['req.headers.authorization'] },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    genReqId: requestIdGenerator(),
    childLoggerFactory,
    // Fastify's per-request lines are info-level: above that they are skipped before any arguments are built.
    logController: new LogController({ disableRequestLogging: !['trace', 'debug', 'info'].includes(config.logLevel) }),
    requestIdHeader: false,
    routerOptions: { maxParamLength: 512 },
  });
  const bodyAjv = makeAjv(false);
  const otherAjv = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : otherAjv).compile(schema));
  const routeList: FastifyInstance['routeList'] = [];
  app.decorate('routeList', routeList);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) if (m !== 'HEAD') routeList.push({ method: m, url: route.url, hidden: Boolean(route.schema?.hide) });
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    notFoundHandler(request, reply);
    app.metrics.notFound(request, reply);
  });
  // Callback-style hooks on the hot path: an async hook costs a promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  const scale = { min: config.ratingMin, max: config.ratingMax };
  await app.register(database, { dataDir: config.dataDir });
  // Before any route, so that each route gets its latency recorder.
  await app.register(metricsPlugin);
  await app.register(openapi);
  await app.register(auth, { apiKeys: config.apiKeys });
  await app.register(health);
  await app.register(ratings, { scale, maxBatch: config.maxBatch, importLimitBytes: config.importLimitBytes });
  await app.register(users);
  await app.register(items);
  await app.register(stats);
  await app.register(training, {
    dataDir: config.dataDir,
    scale,
    engine: config.engine,
    threads: config.engineThreads,
    retrainIntervalMs: config.retrainIntervalMs,
    maxQueuedJobs: config.maxQueuedJobs,
    maxTrainMemoryBytes: config.maxTrainMemoryBytes,
    jobTimeLimitMs: config.jobTimeLimitMs,
  });
  await app.register(jobs);
  await app.register(models);
  await app.register(predict, { maxBatch: config.maxBatch });
  await app.register(recommendations);
  await app.register(metrics);
  return app;
}
