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
  // No public address is fixed yet; whoever runs an instance is its contact.
  contact: { name: 'The operators of this nnmf-recommender instance' },
};

/** Declared once so that generated clients group their methods by them, in this order. */
const TAGS = [
  { name: 'ratings', description: 'Ratings sent by the product backend: one, a batch, or a bulk import' },
  { name: 'users', description: "A user's ratings; deleting a user or a rating" },
  { name: 'items', description: 'Item metadata and rating statistics' },
  { name: 'jobs', description: 'Training jobs: queue, progress, cancellation' },
  { name: 'models', description: 'The model registry: trained models and which one is served' },
  { name: 'serving', description: 'Predicted ratings, recommendations and similar items from the active model' },
  { name: 'ops', description: 'Liveness, readiness, metrics and store counts' },
];

/** Where the service listens by default (HOST and PORT); clients set their own base URL. */
const SERVERS = [
  {
    url: 'http://{host}:{port}',
    description: 'A running nnmf-recommender',
    variables: { host: { default: 'localhost' }, port: { default: '8080' } },
  },
];

export default fp(
  async (app) => {
    app.addSchema(ErrorBodySchema);
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: OPENAPI_INFO,
        servers: SERVERS,
        tags: TAGS,
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
