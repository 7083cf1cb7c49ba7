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
    // The request thread's connection never checkpoints: after a bulk load the WAL holds up to the
    // writer's checkpoint interval (40 MB), and the first small write here (a job's row or
    // progress) would otherwise copy all of it into the database while requests wait. The writer
    // thread checkpoints as it commits, and closing the last connection checkpoints what is left.
    db.pragma('wal_autocheckpoint = 0');
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
