import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { IncomingMessage } from 'node:http';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { Config } from './config';
import { AppError, clientErrorResponse, createErrorHandler, notFoundHandler } from './errors';
import { ID_FORMAT, isWellFormed } from './ratings/validate';
import { ClientAbortError } from './writer/body-reader';
import { childLoggerFactory, requestIdGenerator } from './request-logger';
import auth from './plugins/auth';
import database from './plugins/database';
import writer from './plugins/writer';
import openapi from './plugins/openapi';
import health from './routes/health';
import ratings from './routes/ratings';
import users from './routes/users';
import items from './routes/items';
import stats from './routes/stats';
import metricsPlugin from './plugins/metrics';
import training from './plugins/training';
import live from './plugins/live';
import jobs from './routes/jobs';
import models from './routes/models';
import predict from './routes/predict';
import recommendations from './routes/recommendations';
import metrics from './routes/metrics';
import dashboard from './routes/dashboard';

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
  /** The built dashboard's folder (dist/dashboard by default); tests build their own. */
  dashboardDir?: string;
}

function makeAjv(coerce: boolean): Ajv {
  // Bodies are never coerced: "4" is not a rating. Query strings and path parameters are text and need it.
  // Nor are defaults filled into bodies: they are documentation there, and a job's params are kept
  // as posted (a top-level maxEpochs filled in would override every member's own default).
  const ajv = new Ajv({ coerceTypes: coerce ? 'array' : false, useDefaults: coerce, removeAdditional: false, strict: false, allErrors: false });
  addFormats(ajv);
  ajv.addFormat(ID_FORMAT, { type: 'string', validate: isWellFormed });
  return ajv;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const scale = { min: config.ratingMin, max: config.ratingMax };
  const errorHandler = createErrorHandler({ discardBytes: config.bodyDiscardBytes, idleMs: config.bodyTimeoutMs });
  const genReqId = requestIdGenerator();
  let closing = false;
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel, redact: ['req.headers.authorization'] },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    genReqId,
    // Node's own limit on receiving a whole request (headers and body); BODY_TIMEOUT bounds pauses within it.
    requestTimeout: config.requestTimeoutMs,
    // Requests that arrive while closing get the catalogue's 503 from the hook below, not Fastify's own body.
    return503OnClosing: false,
    // Errors the router raises before any route runs (bad percent-encoding, over-long path segment).
    frameworkErrors: (err, request, reply) => {
      reply.header('x-request-id', request.id);
      errorHandler(err, request, reply);
    },
    // Errors Node's HTTP parser raises before a request exists: 431, 408, unparsable requests.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorResponse(err, genReqId({ headers: {} })));
      socket.destroy(err);
    },
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
  // Requests whose body is still arriving: cut off at shutdown, which a slow client could
  // otherwise hold for as long as it cares to send.
  const uploads = new Set<IncomingMessage>();
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (closing) {
      reply.header('connection', 'close');
      done(new AppError('SHUTTING_DOWN', 'the service is shutting down'));
      return;
    }
    const raw = request.raw;
    if (!raw.complete) {
      uploads.add(raw);
      const forget = () => uploads.delete(raw);
      raw.once('end', forget);
      raw.once('close', forget);
    }
    done();
  });
  app.addHook('preClose', (done) => {
    closing = true;
    // With an error, so that whoever reads the body (Fastify's parser, an import) stops at once.
    for (const raw of uploads) raw.destroy(new ClientAbortError('upload cut off: the service is shutting down'));
    done();
  });

  await app.register(database, { dataDir: config.dataDir });
  await app.register(writer, { dataDir: config.dataDir, scale });
  // Before any route, so that each route gets its latency recorder.
  await app.register(metricsPlugin);
  await app.register(openapi);
  await app.register(auth, { apiKeys: config.apiKeys });
  await app.register(health);
  await app.register(ratings, {
    scale,
    maxBatch: config.maxBatch,
    importLimitBytes: config.importLimitBytes,
    bodyTimeoutMs: config.bodyTimeoutMs,
    discardBytes: config.bodyDiscardBytes,
  });
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
  await app.register(live);
  await app.register(jobs);
  await app.register(models);
  await app.register(predict, { maxBatch: config.maxBatch });
  await app.register(recommendations);
  await app.register(metrics);
  await app.register(dashboard, { apiKeyRequired: config.apiKeys.length > 0, scale, maxBatch: config.maxBatch, dir: options.dashboardDir });
  return app;
}
