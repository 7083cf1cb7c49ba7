import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../errors';
import { ItemIdParam, responses, UserIdParam } from '../schemas/common';
import { PageQuery, UserRatingsResponse } from '../schemas/ratings';

const users: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/users/:userId/ratings',
    {
      schema: {
        tags: ['users'],
        summary: "A user's ratings, paged",
        operationId: 'listUserRatings',
        description: "Pages through one user's ratings in item ID order, with the total count; 404 for a user with no ratings.",
        params: UserIdParam,
        querystring: PageQuery,
        response: responses({ 200: UserRatingsResponse }, [404]),
      },
    },
    async (request) => {
      const { userId } = request.params;
      const { limit = 100, offset = 0 } = request.query;
      const page = app.ratings.userRatings(userId, limit, offset);
      if (!page) throw new AppError('USER_NOT_FOUND', `user ${userId} not found`);
      return { userId, limit, offset, ...page };
    },
  );

  app.delete(
    '/users/:userId',
    {
      schema: {
        tags: ['users'],
        summary: 'Delete a user and all their ratings, and erase them from every model',
        operationId: 'deleteUser',
        description:
          'Removes the user and every rating of theirs, then erases them from the models: the active model forgets their ID and zeroes their rows in memory, and every stored checkpoint has their rows zeroed and their ID removed, so activating an older model cannot bring them back. When the answer arrives, no endpoint returns anything derived from their ratings: predictions fall back and recommendations are the popular list.',
        params: UserIdParam,
        response: responses({ 204: Type.Null() }, [404, 507]),
      },
    },
    async (request, reply) => {
      const { userId } = request.params;
      if (!(await app.writer.deleteUser(userId))) throw new AppError('USER_NOT_FOUND', `user ${userId} not found`);
      // The store no longer has the user, so serving already falls back for them; what follows
      // removes what the models learned of them, in memory and then on disk (in the writer thread).
      app.live.forget(userId);
      app.registry.active?.forgetUser(userId);
      const scrubbed = await app.writer.eraseFromCheckpoints(app.registry.store.modelsDir, userId);
      request.log.info({ models: scrubbed.length }, 'user erased from stored models');
      return reply.status(204).send();
    },
  );

  app.delete(
    '/users/:userId/ratings/:itemId',
    {
      schema: {
        tags: ['users'],
        summary: 'Delete one rating',
        operationId: 'deleteRating',
        description: "Removes one user's rating of one item; 404 when there is none.",
        params: Type.Composite([UserIdParam, ItemIdParam]),
        response: responses({ 204: Type.Null() }, [404, 507]),
      },
    },
    async (request, reply) => {
      const { userId, itemId } = request.params;
      if (!(await app.writer.deleteRating(userId, itemId))) {
        throw new AppError('RATING_NOT_FOUND', `no rating by user ${userId} for item ${itemId}`);
      }
      return reply.status(204).send();
    },
  );
};

export default users;
