import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors';
import type { ModelRecord } from '../models/repository';
import { IdParam, responses } from '../schemas/common';
import { ModelList, ModelListQuery, ModelSchema } from '../schemas/serving';

const publicModel = ({ path: _path, ...m }: ModelRecord) => m;

const models: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/models',
    {
      schema: {
        tags: ['models'],
        summary: 'Trained models, newest first',
        operationId: 'listModels',
        description: 'The model registry: every trained model with its settings and metrics, newest first; at most one is active.',
        querystring: ModelListQuery,
        response: responses({ 200: ModelList }),
      },
    },
    async (request) => {
      const q = request.query;
      return { models: app.models.list(q.limit ?? 50, q.offset ?? 0).map(publicModel) };
    },
  );

  app.get(
    '/models/:id',
    {
      schema: {
        tags: ['models'],
        summary: 'One model',
        operationId: 'getModel',
        description: "A model's engine, training settings, metrics on its held-out ratings, data fingerprint and whether it is the one being served.",
        params: IdParam,
        response: responses({ 200: ModelSchema }, [404]),
      },
    },
    async (request) => {
      const { id } = request.params;
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
        operationId: 'activateModel',
        description: 'Loads the model and makes it the one the serving endpoints answer with, whatever its metrics: this is how to roll back.',
        params: IdParam,
        response: responses({ 200: ModelSchema }, [404, 409]),
      },
    },
    async (request) => {
      const { id } = request.params;
      await app.registry.activate(id);
      return publicModel(app.models.get(id)!);
    },
  );
};

export default models;
