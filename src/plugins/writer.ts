import fs from 'node:fs';
import fp from 'fastify-plugin';
import type { RatingScale } from '../ratings/validate';
import { WriterClient } from '../writer/client';
import { removeLeftoverSpools, removeOwnSpools, spoolDir } from '../writer/spool';

declare module 'fastify' {
  interface FastifyInstance {
    /** The writer thread: every change to users, items and ratings goes through it. */
    writer: WriterClient;
  }
}

export default fp(
  async (app, opts: { dataDir: string; scale: RatingScale }) => {
    const spools = spoolDir(opts.dataDir);
    fs.mkdirSync(spools, { recursive: true });
    const removed = removeLeftoverSpools(spools);
    if (removed.length) app.log.warn({ files: removed }, 'removed spool files left by an interrupted import');
    const writer = await WriterClient.start({ dataDir: opts.dataDir, scale: opts.scale }, (err) =>
      app.log.error({ err }, 'the writer thread stopped; writes fail until the service restarts'),
    );
    // A process that exits without closing the app (a fatal error, the shutdown timer) takes the
    // writer thread down mid-import: its spool files go with it.
    const onExit = () => removeOwnSpools(spools);
    process.on('exit', onExit);
    app.decorate('writer', writer);
    app.addHook('onClose', async () => {
      // Runs after in-flight requests finished: waits for the writes they sent, then stops the thread.
      await writer.close();
      process.off('exit', onExit);
    });
  },
  { name: 'writer', dependencies: ['database'] },
);
