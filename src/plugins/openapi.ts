import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ErrorBodySchema } from '../schemas/common';

export const OPENAPI_INFO = {
  title: 'nnmf-recommender',
  description:
    'Rating prediction and top-N recommendations with Neural Network Matrix Factorization. ' +
    'Every error body is {statusCode, code, error, message} with a stable RECO_ERR_* code.',
  version: '0.1.0',
};

export default fp(
  async (app) => {
    app.addSchema(ErrorBodySchema);
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: OPENAPI_INFO,
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
        },
        security: [{ bearerAuth: [] }],
      },
      refResolver: { buildLocalReference: (json, _base, _frag, i) => (json.$id as string) ?? `def-${i}` },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
    app.get('/openapi.json', { schema: { hide: true }, config: { public: false } }, async () => app.swagger());
  },
  { name: 'openapi' },
);
