import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { AppError, committed } from '../errors';
import { responses } from '../schemas/common';
import { ImportQuery, ImportResponse, RatingsBody, UpsertResponse } from '../schemas/ratings';
import type { ImportFormat } from '../ratings/formats';
import { checkRatingInput, ILL_FORMED, type RatingRow, type RatingScale } from '../ratings/validate';
import type { ImportSummary } from '../writer/import-session';

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

const ratings: FastifyPluginAsync<RatingsRouteOptions> = async (app, opts) => {
  // Import bodies stay streams: they can be far larger than any JSON body limit.
  app.addContentTypeParser(TEXT_TYPES, (_req, payload, done) => done(null, payload));

  app.post(
    '/ratings',
    {
      schema: {
        tags: ['ratings'],
        summary: 'Add or overwrite one rating or a batch of ratings (all or nothing)',
        body: RatingsBody,
        response: responses({ 200: UpsertResponse }, [408, 413, 415, 507]),
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
          const kind = bad.every((b) => b.reason.startsWith('rating'))
            ? 'INVALID_RATING'
            : bad.every((b) => b.reason.endsWith(ILL_FORMED))
              ? 'INVALID_ID'
              : 'VALIDATION';
          throw new AppError(kind, `${bad.length} of ${list.length} ratings rejected; nothing was stored`, bad.slice(0, 100));
        }
        (request as FastifyRequest & { rows?: RatingRow[] }).rows = rows;
      },
    },
    async (request) => {
      const rows = (request as FastifyRequest & { rows: RatingRow[] }).rows;
      return app.writer.upsert(rows);
    },
  );

  app.post(
    '/ratings/import',
    {
      schema: {
        tags: ['ratings'],
        summary: 'Bulk import ratings from CSV, TSV or MovieLens files (raw request body, streamed)',
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
      const body = request.body as unknown;
      if (!body || typeof (body as Readable).pipe !== 'function' || isJson(request)) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', `import takes a raw body of type ${TEXT_TYPES.join(', ')}`);
      }
      const q = request.query as { format?: ImportFormat; atomic?: boolean };
      const atomic = q.atomic ?? false;
      const raw = body as Readable;
      app.uploads.add(request.raw);
      let outcome;
      try {
        outcome = await app.writer.importStream(raw, {
          format: q.format ?? 'auto',
          atomic,
          maxBytes: opts.importLimitBytes,
          idleTimeoutMs: opts.bodyTimeoutMs,
        });
      } catch (err) {
        const summary = (err as { summary?: ImportSummary }).summary;
        if (summary) request.log.info({ ...committed(summary), atomic }, 'import stopped');
        throw err;
      } finally {
        app.uploads.delete(request.raw);
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
