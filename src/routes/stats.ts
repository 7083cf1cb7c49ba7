import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { responses } from '../schemas/common';
import { StatsResponse } from '../schemas/ratings';

const stats: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/stats',
    {
      schema: {
        tags: ['ops'],
        summary: 'Counts of users, items and ratings',
        operationId: 'getStats',
        description: 'Numbers of users, items and ratings in the store now (not in the active model).',
        response: responses({ 200: StatsResponse }),
      },
    },
    async () => app.ratings.stats(),
  );
};

export default stats;
