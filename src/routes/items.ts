import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
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
        summary: 'Create an item or replace its metadata',
        operationId: 'putItem',
        description:
          'Sets the title and attributes of an item, and whether it is hidden: 201 when the item was new, 200 otherwise. Training uses the ratings only; attributes serve the filters of recommendations and similar items; a hidden item is never recommended (its ratings still train).',
        params: ItemIdParam,
        body: ItemPutBody,
        response: responses({ 200: ItemResponse, 201: ItemResponse }, [413, 415, 507]),
      },
    },
    async (request, reply) => {
      const { itemId } = request.params;
      const body = request.body;
      const attributes = body.attributes ?? null;
      const created = await app.writer.putItem(itemId, body.title ?? null, attributes, body.hidden);
      app.catalogue.setItem(itemId, attributes, body.hidden);
      return reply.status(created ? 201 : 200).send(app.ratings.item(itemId));
    },
  );

  app.delete(
    '/items/:itemId',
    {
      schema: {
        tags: ['items'],
        summary: 'Delete an item and all its ratings',
        operationId: 'deleteItem',
        description:
          'Removes the item and every rating of it. The active model no longer predicts from its row nor lists it; the users who rated it are folded in again from their remaining ratings. 404 for an item the service has never seen.',
        params: ItemIdParam,
        response: responses({ 204: Type.Null() }, [404, 507]),
      },
    },
    async (request, reply) => {
      const { itemId } = request.params;
      if (!(await app.writer.deleteItem(itemId))) throw new AppError('ITEM_NOT_FOUND', `item ${itemId} not found`);
      app.catalogue.removeItem(itemId);
      app.liveItems.forget(itemId);
      app.registry.active?.forgetItem(itemId);
      return reply.status(204).send();
    },
  );
};

export default items;
