import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors';
import { ItemIdParam, responses } from '../schemas/common';
import { ItemPutBody, ItemResponse } from '../schemas/ratings';

const items: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/items/:itemId',
    {
      schema: {
        tags: ['items'],
        summary: "An item's metadata, rating count and mean",
        operationId: 'getItem',
        description: 'Title and attributes as set by PUT, with the count and mean of the stored ratings; 404 for an item the service has never seen.',
        params: ItemIdParam,
        response: responses({ 200: ItemResponse }, [404]),
      },
    },
    async (request) => {
      const { itemId } = request.params;
      const item = app.ratings.item(itemId);
      if (!item) throw new AppError('ITEM_NOT_FOUND', `item ${itemId} not found`);
      return item;
    },
  );

  app.put(
    '/items/:itemId',
    {
      schema: {
        tags: ['items'],
        summary: "Create an item or replace its metadata",
        operationId: 'putItem',
        description: 'Sets the title and attributes of an item: 201 when the item was new, 200 otherwise. Metadata is kept for callers; training uses the ratings only.',
        params: ItemIdParam,
        body: ItemPutBody,
        response: responses({ 200: ItemResponse, 201: ItemResponse }, [413, 415, 507]),
      },
    },
    async (request, reply) => {
      const { itemId } = request.params;
      const body = request.body;
      const created = await app.writer.putItem(itemId, body.title ?? null, body.attributes ?? null);
      return reply.status(created ? 201 : 200).send(app.ratings.item(itemId));
    },
  );
};

export default items;
