import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { AppError } from '../errors';
import { responses } from '../schemas/common';
import { ImportQuery, ImportResponse, RatingsBody, UpsertResponse } from '../schemas/ratings';
import { importRatings, ImportTooLargeError } from '../ratings/importer';
import type { ImportFormat } from '../ratings/formats';
import { checkRatingInput, type RatingRow, type RatingScale } from '../ratings/validate';

export interface RatingsRouteOptions {
  scale: RatingScale;
  maxBatch: number;
  importLimitBytes: number;
}

const TEXT_TYPES = ['text/csv', 'text/plain', 'text/tab-separated-values', 'application/octet-stream'];

function isJson(request: FastifyRequest): boolean {
  const ct = request.headers['content-type'] ?? '';
  return /^application\/([\w.+-]*\+)?json\b/i.test(ct);
}

const ratings: FastifyPluginAsync<RatingsRouteOptions> = async (app, opts) => {
  // Import bodies stay streams: they can be far larger than any JSON body limit.
  app.addContentTypeParser(TEXT_TYPES, (_req, payload, done) => done(null, payload));

  app.post(
    '/ratings',
    {
      schema: {
        tags: ['ratings'],
        summary: 'Add or overwrite one rating or a batch of ratings (all or nothing)',
        operationId: 'addRatings',
        description: 'Takes one rating object or an array of them; a user keeps one rating per item, the latest. A batch is stored whole or not at all: a 400 lists every bad row with its index.',
        body: RatingsBody,
        response: responses({ 200: UpsertResponse }, [413, 415]),
      },
      // Row-level checks run before schema validation so a bad batch is answered with every bad row listed.
      preValidation: async (request) => {
        if (!isJson(request)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'POST /ratings takes application/json');
        const body = request.body;
        const list = Array.isArray(body) ? body : [body];
        if (Array.isArray(body) && body.length === 0) throw new AppError('VALIDATION', 'ratings array is empty');
        if (list.length > opts.maxBatch) {
          throw new AppError('BATCH_TOO_LARGE', `at most ${opts.maxBatch} ratings per request, got ${list.length}`);
        }
        const bad: { index: number; reason: string }[] = [];
        const rows: RatingRow[] = [];
        list.forEach((input, index) => {
          const r = checkRatingInput(input, opts.scale);
          if ('reason' in r) bad.push({ index, reason: r.reason });
          else rows.push(r.row);
        });
        if (bad.length) {
          const kind = bad.every((b) => b.reason.startsWith('rating')) ? 'INVALID_RATING' : 'VALIDATION';
          throw new AppError(kind, `${bad.length} of ${list.length} ratings rejected; nothing was stored`, bad.slice(0, 100));
        }
        (request as FastifyRequest & { rows?: RatingRow[] }).rows = rows;
      },
    },
    async (request) => {
      const rows = (request as FastifyRequest & { rows: RatingRow[] }).rows;
      return app.ratings.upsertMany(rows);
    },
  );

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
        response: responses({ 200: ImportResponse }, [413, 415]),
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!body || typeof (body as Readable).pipe !== 'function' || isJson(request)) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', `import takes a raw body of type ${TEXT_TYPES.join(', ')}`);
      }
      const q = request.query as { format?: ImportFormat; atomic?: boolean };
      let summary;
      try {
        summary = await importRatings(body as Readable, app.ratings, {
          format: q.format ?? 'auto',
          atomic: q.atomic ?? false,
          scale: opts.scale,
          maxBytes: opts.importLimitBytes,
        });
      } catch (err) {
        if (err instanceof ImportTooLargeError) throw new AppError('BODY_TOO_LARGE', err.message);
        throw err;
      }
      request.log.info({ ...summary, errors: undefined }, 'import finished');
      if (q.atomic && summary.rejected > 0) {
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
