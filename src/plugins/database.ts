import fp from 'fastify-plugin';
import type { Database } from 'better-sqlite3';
import { openDatabase } from '../db/open';
import { RatingsRepository } from '../ratings/repository';
import { appliedVersionReader, latestVersion } from '../db/migrate';

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
    ratings: RatingsRepository;
    isDatabaseReady(): boolean;
  }
}

export default fp(
  async (app, opts: { dataDir: string }) => {
    const db = openDatabase(opts.dataDir);
    app.decorate('db', db);
    app.decorate('ratings', new RatingsRepository(db));
    const latest = latestVersion();
    // Opening migrated the database; readiness re-reads the recorded version without any DDL.
    const applied = appliedVersionReader(db);
    app.decorate('isDatabaseReady', () => {
      if (!db.open) return false;
      try {
        return applied() >= latest;
      } catch {
        return false;
      }
    });
    app.addHook('onClose', async () => {
      db.close();
    });
  },
  { name: 'database' },
);
