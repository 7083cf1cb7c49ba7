import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors';
import type { Predictor, ScoredItem } from '../engine/predictor';
import { FilterSyntaxError, parseFilter } from '../serving/catalogue';
import { ItemIdParam, responses, UserIdParam } from '../schemas/common';
import { RecommendQuery, RecommendResponse, RerankBody, SimilarQuery, SimilarResponse } from '../schemas/serving';
import { requireModel } from './predict';

const recommendations: FastifyPluginAsyncTypebox = async (app) => {
  // Rated items come from the store as it is now, not as it was when the model was trained;
  // hidden items are never listed.
  const recommend = async (model: Predictor, userId: string, n: number, exclude: Set<string>, excludeRated: boolean, candidates?: string[]) => {
    if (excludeRated) for (const id of app.ratings.userRatedItems(userId)) exclude.add(id);
    for (const id of app.catalogue.hidden) exclude.add(id);
    const live = await app.live.view(model, userId);
    // Items the model does not know, folded in: the candidates among them, or else the latest changed.
    const folded = candidates ? await app.liveItems.items(model, candidates) : await app.liveItems.recent(model);
    const items = await model.topN(userId, n, exclude, candidates, live.view, folded);
    if (items) return { modelId: model.modelId, userId, items, fallback: null, source: live.source };
    return {
      modelId: model.modelId,
      userId,
      items: model.popularItems(n, exclude, candidates),
      fallback: 'popular' as const,
      source: 'fallback' as const,
    };
  };

  /** The items a filter lets through (before ranking), or undefined for no filter. */
  const filtered = (filter: string | undefined): string[] | undefined => {
    if (filter === undefined) return undefined;
    try {
      return app.catalogue.matching(parseFilter(filter));
    } catch (err) {
      if (err instanceof FilterSyntaxError) throw new AppError('INVALID_FILTER', err.message);
      throw err;
    }
  };

  /** Candidates the model has never seen (and could not fold in) still belong in a list, after the scored ones, at the global mean. */
  const appendUnknown = (model: Predictor, items: ScoredItem[], candidates: readonly string[], n: number, exclude: ReadonlySet<string>) => {
    const listed = new Set(items.map((x) => x.itemId));
    for (const itemId of candidates) {
      if (items.length >= n) break;
      if (!model.hasItem(itemId) && !exclude.has(itemId) && !listed.has(itemId)) {
        items.push({ itemId, score: model.meta.summary.globalMean, source: 'fallback' });
      }
    }
  };

  app.get(
    '/users/:userId/recommendations',
    {
      schema: {
        tags: ['serving'],
        summary: 'Top-N items for a user by predicted rating',
        operationId: 'getRecommendations',
        description:
          'Users the model does not know are folded in from their current ratings (source "foldin"); users without ratings (or erased) get popular, well-rated items with fallback "popular". Items the model does not know are folded in from their ratings and ranked with the others (each marked source "foldin"; without a filter, the latest changed of them). Hidden items are never listed; a filter restricts the list to matching items before ranking.',
        params: UserIdParam,
        querystring: RecommendQuery,
        response: responses({ 200: RecommendResponse }, [503]),
      },
    },
    async (request) => {
      const model = requireModel(app.registry.active);
      const { userId } = request.params;
      const q = request.query;
      const exclude = new Set(
        (q.exclude ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
      const candidates = filtered(q.filter);
      const n = q.n ?? 10;
      const res = await recommend(model, userId, n, exclude, q.excludeRated ?? true, candidates);
      if (candidates) appendUnknown(model, res.items, candidates, n, exclude);
      return res;
    },
  );

  app.post(
    '/users/:userId/recommendations',
    {
      schema: {
        tags: ['serving'],
        summary: "Rerank the caller's candidate items for a user",
        operationId: 'rerankItems',
        description:
          'Scores the given candidate items for the user and answers the best n (all of them when n is absent). Candidates the model has never seen are folded in from their ratings and scored (source "foldin"), or else follow the scored ones at the global mean (source "fallback").',
        params: UserIdParam,
        body: RerankBody,
        response: responses({ 200: RecommendResponse }, [413, 415, 503]),
      },
    },
    async (request) => {
      const model = requireModel(app.registry.active);
      const { userId } = request.params;
      const body = request.body;
      const candidates = [...new Set(body.candidates)];
      const n = body.n ?? candidates.length;
      const exclude = new Set<string>();
      const res = await recommend(model, userId, n, exclude, body.excludeRated ?? false, candidates);
      if (res.fallback === null) appendUnknown(model, res.items, candidates, n, exclude);
      return res;
    },
  );

  app.get(
    '/items/:itemId/similar',
    {
      schema: {
        tags: ['serving'],
        summary: 'Nearest items by the learned item embeddings (cosine similarity)',
        operationId: 'getSimilarItems',
        description: 'Items nearest to this one by cosine similarity of their learned embeddings; 404 when the active model does not know the item.',
        params: ItemIdParam,
        querystring: SimilarQuery,
        response: responses({ 200: SimilarResponse }, [404, 503]),
      },
    },
    async (request) => {
      const model = requireModel(app.registry.active);
      const { itemId } = request.params;
      const { n = 10, filter } = request.query;
      const items = model.similar(itemId, n, app.catalogue.hidden, filtered(filter));
      if (!items) throw new AppError('ITEM_NOT_FOUND', `item ${itemId} is unknown to model ${model.modelId}`);
      return { modelId: model.modelId, itemId, items };
    },
  );
};

export default recommendations;
