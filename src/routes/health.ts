import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors';

const Status = Type.Object({ status: Type.String() });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded')]),
  detail: Type.Optional(Type.String({ description: 'What is degraded: the active model could not be loaded and what is served instead' })),
});

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['ops'],
        summary: 'Liveness probe',
        operationId: 'getHealth',
        description: 'Answers 200 while the process runs. Needs no API key.',
        security: [],
        response: { 200: Status },
      },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/ready',
    {
      config: { public: true },
      schema: {
        tags: ['ops'],
        summary: 'Readiness probe: the database is open and migrated, and the writer thread runs',
        operationId: 'getReadiness',
        description:
          'Answers 503 (RECO_ERR_NOT_READY) until the database is open and migrated, or when the writer thread has stopped; then 200, ' +
          '`degraded` when the active model could not be loaded and another one (or none) is served. Needs no API key.',
        security: [],
        response: { 200: Readiness, 503: Type.Ref('ErrorBody') },
      },
    },
    async () => {
      if (!app.isDatabaseReady()) throw new AppError('NOT_READY', 'database is not open or not migrated');
      if (!app.writer.running) throw new AppError('NOT_READY', 'the writer thread has stopped; writes fail until a restart');
      const degraded = app.registry.degraded;
      return degraded ? { status: 'degraded' as const, detail: degraded } : { status: 'ready' as const };
    },
  );
};

export default health;
