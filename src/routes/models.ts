import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { AppError } from '../errors';
import type { ModelRecord } from '../jobs/models-repository';
import { responses } from '../schemas/common';
import { JobIdParam, ModelList, ModelSchema } from '../schemas/serving';

const publicModel = ({ path: _path, ...m }: ModelRecord) => m;

const models: FastifyPluginAsync = async (app) => {
  const page = Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  });
  app.get(
    '/models',
    { schema: { tags: ['models'], summary: 'Trained models, newest first', querystring: page, response: responses({ 200: ModelList }) } },
    async (request) => {
      const q = request.query as { limit?: number; offset?: number };
      return { models: app.models.list(q.limit ?? 50, q.offset ?? 0).map(publicModel) };
    },
  );

  app.get(
    '/models/:id',
    { schema: { tags: ['models'], summary: 'One model', params: JobIdParam, response: responses({ 200: ModelSchema }, [404]) } },
    async (request) => {
      const { id } = request.params as { id: string };
      const m = app.models.get(id);
      if (!m) throw new AppError('MODEL_NOT_FOUND', `model ${id} not found`);
      return publicModel(m);
    },
  );

  app.post(
    '/models/:id/activate',
    {
      schema: {
        tags: ['models'],
        summary: 'Serve this model from now on (roll back or forward)',
        params: JobIdParam,
        response: responses({ 200: ModelSchema }, [404]),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      if (!app.models.get(id)) throw new AppError('MODEL_NOT_FOUND', `model ${id} not found`);
      await app.registry.activate(id);
      return publicModel(app.models.get(id)!);
    },
  );
};

export default models;
