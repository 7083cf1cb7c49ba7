import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../errors';
import { projectRoot } from '../root';

/** Where `npm run build` writes the dashboard's files (src/dashboard/build.mjs). */
export const DASHBOARD_DIR = path.join(projectRoot(), 'dist', 'dashboard');

/**
 * The page may load its own scripts, styles and images and call this service's API, nothing
 * else: no inline script, no other origin, not framed.
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The dashboard: static files under /dashboard/, answered without an API key. They hold no
 * data; every figure the page shows comes from the API, which the page calls with the key the
 * operator enters (kept in the browser's sessionStorage, sent as the bearer header). A
 * browser cannot send a bearer header when it navigates to a page, so protecting the files
 * themselves would need a cookie or a key in the URL, which the API does not take.
 *
 * Built file names carry a content hash and are cached for a year; index.html is revalidated
 * every time, so a new build is picked up at the next load.
 */
export interface DashboardOptions {
  apiKeyRequired: boolean;
  scale: { min: number; max: number };
  maxBatch: number;
  /** The built files; DASHBOARD_DIR unless a test builds its own. */
  dir?: string;
}

const dashboard: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
  const dir = opts.dir ?? DASHBOARD_DIR;
  // Routes of this plugin only (the hook is encapsulated): readable without a key.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
  });
  // What the page needs before its first API call: whether to ask for a key, and the rating
  // scale and batch limit of this instance. Nothing secret: a 401 would tell the first, the API
  // description the others.
  const pageConfig = { apiKeyRequired: opts.apiKeyRequired, ratingMin: opts.scale.min, ratingMax: opts.scale.max, maxBatch: opts.maxBatch };
  app.get('/dashboard/config.json', { schema: { hide: true } }, async (_request, reply) => {
    void reply.header('cache-control', 'no-store');
    return pageConfig;
  });
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    app.log.warn({ dir }, 'the dashboard is not built (npm run build): /dashboard answers 404');
    app.get('/dashboard', { schema: { hide: true } }, async () => {
      throw new AppError('NOT_FOUND', 'the dashboard is not built: run npm run build');
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/dashboard',
    // /dashboard answers a redirect to /dashboard/, whose relative asset URLs then resolve.
    redirect: true,
    index: 'index.html',
    decorateReply: false,
    schemaHide: true,
    cacheControl: false,
    setHeaders: (res, file) => {
      const immutable = /-[A-Z0-9]{8}\.(js|css)$/.test(path.basename(file));
      res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      res.setHeader('content-security-policy', CSP);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
    },
  });
};

export default dashboard;
