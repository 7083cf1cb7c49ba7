import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { AppError, committed } from '../errors';
import { responses } from '../schemas/common';
import { ImportQuery, ImportResponse, RatingsBody, UpsertResponse } from '../schemas/ratings';
import type { RatingScale } from '../ratings/validate';
import { importSummaryOf } from '../writer/client';

export interface RatingsRouteOptions {
  scale: RatingScale;
  maxBatch: number;
  importLimitBytes: number;
  bodyTimeoutMs: number;
  discardBytes: number;
}

const TEXT_TYPES = ['text/csv', 'text/plain', 'text/tab-separated-values', 'application/octet-stream'];

function isJson(request: FastifyRequest): boolean {
  const ct = request.headers['content-type'] ?? '';
  return /^application\/([\w.+-]*\+)?json\b/i.test(ct);
}

const ratings: FastifyPluginAsyncTypebox<RatingsRouteOptions> = async (app, opts) => {
  // Import bodies stay streams: they can be far larger than any JSON body limit.
  app.addContentTypeParser(TEXT_TYPES, (_req, payload, done) => done(null, payload));

  await app.register(async (scope) => {
    // The body is passed on as bytes: the writer thread parses and checks it, so a batch of
    // thousands of rows costs the request thread a copy, not a parse, a check and a clone.
    // (The schema stays for the API description; the writer applies the same rules, listing
    // every bad row.)
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post(
      '/ratings',
      {
        schema: {
          tags: ['ratings'],
          summary: 'Add or overwrite one rating or a batch of ratings (all or nothing)',
          operationId: 'addRatings',
          description:
            'Takes one rating object or an array of them; a user keeps one rating per item, the latest. A batch is stored whole or not at all: a 400 lists every bad row with its index.',
          body: RatingsBody,
          response: responses({ 200: UpsertResponse }, [408, 413, 415, 507]),
        },
        validatorCompiler: () => () => true,
      },
      async (request) => {
        if (!isJson(request) || !Buffer.isBuffer(request.body)) {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'POST /ratings takes application/json');
        }
        return app.writer.upsertJson(request.body, opts.maxBatch);
      },
    );
  });

  app.post(
    '/ratings/import',
    {
      schema: {
        tags: ['ratings'],
        summary: 'Bulk import ratings from CSV, TSV or MovieLens files (raw request body, streamed)',
        operationId: 'importRatings',
        description:
          'CSV needs the header userId,itemId,rating[,timestamp]; TSV the same header with tabs. ' +
          'movielens-100k is u.data (tab separated, no header); movielens-1m is ratings.dat (:: separated). ' +
          'With atomic=true any bad row rejects the whole file.',
        querystring: ImportQuery,
        consumes: TEXT_TYPES,
        response: responses({ 200: ImportResponse }, [408, 413, 415, 507]),
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!body || typeof (body as Readable).pipe !== 'function' || isJson(request)) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', `import takes a raw body of type ${TEXT_TYPES.join(', ')}`);
      }
      const q = request.query;
      const atomic = q.atomic ?? false;
      const raw = body as Readable;
      let outcome;
      try {
        outcome = await app.writer.importStream(raw, {
          format: q.format ?? 'auto',
          atomic,
          maxBytes: opts.importLimitBytes,
          idleTimeoutMs: opts.bodyTimeoutMs,
        });
      } catch (err) {
        const summary = importSummaryOf(err);
        if (summary) request.log.info({ ...committed(summary), atomic }, 'import stopped');
        throw err;
      }
      const { summary, truncated } = outcome;
      request.log.info({ ...summary, errors: undefined, atomic, truncated }, 'import finished');
      if (truncated) {
        // The rest of the body is read and dropped by the error handler before the answer goes out.
        const what = atomic ? 'nothing was stored' : 'the lines before the limit were stored';
        throw new AppError('BODY_TOO_LARGE', `import body exceeds ${opts.importLimitBytes} bytes; ${what}`, committed(summary));
      }
      if (atomic && summary.rejected > 0) {
        throw new AppError('IMPORT_REJECTED', `${summary.rejected} bad rows; nothing was stored`, summary.errors);
      }
      if (summary.inserted + summary.updated === 0 && summary.rejected === 0) {
        throw new AppError('EMPTY_BODY', 'import body holds no ratings');
      }
      return reply.send(summary);
    },
  );
};

export default ratings;
