import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

const metrics: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics',
        operationId: 'getMetrics',
        description: 'Process, HTTP, training and serving metrics in the Prometheus text exposition format, for scraping.',
        produces: ['text/plain'],
        response: { 200: Type.String({ description: 'Prometheus text exposition format' }) },
      },
    },
    async (_request, reply) => {
      const body = await app.metrics.render();
      return reply.type(app.metrics.registry.contentType).send(body);
    },
  );
};

export default metrics;
