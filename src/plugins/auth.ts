import crypto from 'node:crypto';
import fp from 'fastify-plugin';
import { AppError } from '../errors';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Route answers without an API key (liveness and readiness probes). */
    public?: boolean;
  }
}

const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

/** Bearer-token check. Keys are compared as SHA-256 digests so the comparison time does not depend on the key. */
export default fp(
  async (app, opts: { apiKeys: string[] }) => {
    if (opts.apiKeys.length === 0) {
      app.log.warn('API_KEYS is not set: the API is open to anyone who can reach it');
      return;
    }
    const keys = opts.apiKeys.map(digest);
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config?.public) return;
      const header = request.headers.authorization;
      const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!m) throw new AppError('UNAUTHORIZED', 'missing bearer token');
      const given = digest(m[1]);
      let ok = false;
      for (const k of keys) ok = crypto.timingSafeEqual(k, given) || ok;
      if (!ok) throw new AppError('UNAUTHORIZED', 'invalid bearer token');
    });
  },
  { name: 'auth' },
);
