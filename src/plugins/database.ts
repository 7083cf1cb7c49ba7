import fp from 'fastify-plugin';
import type { Database } from 'better-sqlite3';
import { openDatabase } from '../db/open';
import { RatingsRepository } from '../ratings/repository';
import { latestVersion } from '../db/migrate';

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
    const applied = db.prepare('SELECT MAX(version) AS v FROM schema_migrations');
    app.decorate('isDatabaseReady', () => {
      if (!db.open) return false;
      try {
        return ((applied.get() as { v: number | null }).v ?? 0) >= latest;
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
