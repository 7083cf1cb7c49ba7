import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../errors';

const Status = Type.Object({ status: Type.String() });

const health: FastifyPluginAsync = async (app) => {
  app.get(
    '/health',
    { config: { public: true }, schema: { tags: ['ops'], summary: 'Liveness probe', security: [], response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/ready',
    {
      config: { public: true },
      schema: {
        tags: ['ops'],
        summary: 'Readiness probe: the database is open and migrated, and the writer thread runs',
        security: [],
        response: { 200: Status, 503: Type.Ref('ErrorBody') },
      },
    },
    async () => {
      if (!app.isDatabaseReady()) throw new AppError('NOT_READY', 'database is not open or not migrated');
      if (!app.writer.running) throw new AppError('NOT_READY', 'the writer thread has stopped; writes fail until a restart');
      return { status: 'ready' };
    },
  );
};

export default health;
