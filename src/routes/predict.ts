import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors';
import type { Predictor } from '../engine/predictor';
import { responses } from '../schemas/common';
import { PredictBody, PredictResponse } from '../schemas/serving';

export function requireModel(active: Predictor | null): Predictor {
  if (!active) throw new AppError('NO_MODEL', 'no trained model yet: POST /jobs to train one');
  return active;
}

const predict: FastifyPluginAsyncTypebox<{ maxBatch: number }> = async (app, opts) => {
  app.post(
    '/predict',
    {
      schema: {
        tags: ['serving'],
        summary: 'Predicted ratings for user-item pairs, clipped to the rating scale',
        operationId: 'predictRatings',
        description:
          "Unknown users or items are not errors: they get a mean-based rating and a fallback marker. A user the model does not know, or whose ratings changed since it was trained, is folded in from their current ratings (source 'foldin'); a user who is not stored (never, or erased) gets a fallback. An item the model does not know is folded in from its ratings by users the model knows (source 'foldin'), or gets a fallback.",
        body: PredictBody,
        response: responses({ 200: PredictResponse }, [413, 415, 503]),
      },
    },
    async (request) => {
      const body = request.body;
      const pairs = 'pairs' in body ? body.pairs : [body];
      if (pairs.length > opts.maxBatch) throw new AppError('BATCH_TOO_LARGE', `at most ${opts.maxBatch} pairs per request, got ${pairs.length}`);
      const model = requireModel(app.registry.active);
      const [views, items] = await Promise.all([
        app.live.views(
          model,
          pairs.map((p) => p.userId),
        ),
        app.liveItems.items(
          model,
          pairs.map((p) => p.itemId),
        ),
      ]);
      return { modelId: model.modelId, predictions: model.predict(pairs, views, items) };
    },
  );
};

export default predict;
