import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors';

const Status = Type.Object({ status: Type.String() });

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
        summary: 'Readiness probe: the database is open and migrated',
        operationId: 'getReadiness',
        description: 'Answers 503 (RECO_ERR_NOT_READY) until the database is open and migrated, then 200. Needs no API key.',
        security: [],
        response: { 200: Status, 503: Type.Ref('ErrorBody') },
      },
    },
    async () => {
      if (!app.isDatabaseReady()) throw new AppError('NOT_READY', 'database is not open or not migrated');
      return { status: 'ready' };
    },
  );
};

export default health;
