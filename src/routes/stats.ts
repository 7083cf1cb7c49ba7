import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { responses } from '../schemas/common';
import { RatingStatsResponse, StatsResponse } from '../schemas/ratings';

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

  app.get(
    '/stats/ratings',
    {
      schema: {
        tags: ['ops'],
        summary: 'Rating distribution, and how much the data changed since the active model',
        operationId: 'getRatingStats',
        description:
          'The histogram of stored ratings in half-star bins and, for the active model, the ratings in its training snapshot against those stored now. ' +
          'Read from counts the writer keeps with every write: constant time at any size.',
        response: responses({ 200: RatingStatsResponse }),
      },
    },
    async () => {
      const { ratings, dataVersion, bins } = app.ratings.ratingHistogram();
      const model = app.models.active();
      let activeModel = null;
      if (model) {
        const counts = model.metrics.counts as { train?: number; validation?: number; evaluation?: number } | undefined;
        const atTraining = counts && typeof counts.train === 'number' ? counts.train + (counts.validation ?? 0) + (counts.evaluation ?? 0) : null;
        activeModel = {
          modelId: model.id,
          createdAt: model.createdAt,
          ratingsAtTraining: atTraining,
          ratingsAdded: atTraining === null ? null : ratings - atTraining,
          writesSince: Math.max(0, dataVersion - model.dataVersion),
        };
      }
      return { ratings, binWidth: 0.5, histogram: bins, activeModel };
    },
  );
};

export default stats;
