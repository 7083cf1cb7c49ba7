/**
 * The writer thread: the one place rating data is written in the server. It has its own
 * SQLite connection, so a long transaction (an atomic import) holds only this thread while the
 * request thread keeps reading through WAL.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../db/open';
import { eraseUserFromCheckpoints } from '../engine/erasure';
import { collectGarbage, lowerThreadPriority } from '../threads';
import { checkRatingBatch, type BatchProblem } from '../ratings/validate';
import { ImportFailedError, ImportSession } from './import-session';
import type { Reply, Request, Started, WireError, WriterData } from './protocol';
import { spoolDir } from './spool';
import { RatingsStore } from './store';
import { tuneForWrites } from './tuning';

const WRITER_NICE = 10;

const port = parentPort!;
const data = workerData as WriterData;

// Where it shares a core with the request thread, requests win it; a bulk import on an otherwise idle machine runs on the other core at the same speed.
lowerThreadPriority(WRITER_NICE);

/** A request body the writer refuses; crosses back as a 4xx, not as a failure. */
class RefusedBody extends Error {
  constructor(readonly problem: BatchProblem) {
    super(problem.message);
  }
}

function wire(err: unknown): WireError {
  if (err instanceof ImportFailedError) return { ...wire(err.cause), summary: err.summary };
  if (err instanceof RefusedBody) return { message: err.message, problem: err.problem };
  const e = err as { message?: string; code?: unknown };
  return { message: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined };
}

let store: RatingsStore;
try {
  const db = openDatabase(data.dataDir);
  tuneForWrites(db);
  store = new RatingsStore(db);
  port.postMessage({ ready: true } satisfies Started);
} catch (err) {
  port.postMessage({ ready: false, error: wire(err) } satisfies Started);
  process.exit(1);
}

const imports = new Map<number, ImportSession>();

function session(importId: number): ImportSession {
  const s = imports.get(importId);
  if (!s) throw new Error(`no import ${importId} in progress`);
  return s;
}

function handle(m: Request): unknown {
  switch (m.op) {
    case 'upsertJson': {
      const checked = checkRatingBatch(Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).toString('utf8'), data.scale, m.maxBatch);
      if (!('rows' in checked)) throw new RefusedBody(checked);
      return store.upsert(checked.rows);
    }
    case 'deleteUser':
      return store.deleteUser(m.userId);
    case 'deleteRating':
      return store.deleteRating(m.userId, m.itemId);
    case 'putItem':
      return store.putItem(m.itemId, m.title, m.attributes, m.hidden);
    case 'deleteItem':
      return store.deleteItem(m.itemId);
    case 'eraseFromCheckpoints':
      return eraseUserFromCheckpoints(m.modelsDir, m.userId);
    case 'importStart':
      imports.set(m.importId, new ImportSession(store, { format: m.format, atomic: m.atomic, scale: data.scale, spoolDir: spoolDir(data.dataDir) }));
      return null;
    case 'importChunk':
      try {
        session(m.importId).push(m.chunk);
      } catch (err) {
        imports.delete(m.importId);
        throw err;
      }
      return null;
    case 'importEnd': {
      const s = session(m.importId);
      imports.delete(m.importId);
      return s.finish(m.truncated);
    }
    case 'importAbort': {
      // The upload broke off. A non-atomic import keeps every whole line received, as when it is
      // cut at the size limit; an atomic one stores nothing.
      const s = imports.get(m.importId);
      imports.delete(m.importId);
      if (!s) return null;
      if (m.keepLines) return s.finish(true);
      s.close();
      return s.summary;
    }
    case 'close':
      // Sent last, after every reply the request thread waits for: an import still open here
      // lost its upload, so it is closed and its spool file removed.
      for (const s of imports.values()) s.close();
      imports.clear();
      store.db.close();
      return null;
  }
}

/**
 * After the last import in progress has ended: the ID caches (filled with every ID the import
 * saw, and refilled from the tables on demand) are dropped and the heap is collected, so what
 * the import parsed does not stay resident while the thread waits for the next write (the
 * request thread then returns the freed pages to the system).
 */
function afterImports(): void {
  if (imports.size > 0) return;
  store.forgetKeys();
  collectGarbage();
}

port.on('message', (m: Request) => {
  let reply: Reply;
  try {
    reply = { id: m.id, ok: true, value: handle(m) };
  } catch (err) {
    reply = { id: m.id, ok: false, error: wire(err) };
  }
  if (m.op === 'importEnd' || m.op === 'importAbort' || (m.op === 'importChunk' && !reply.ok)) afterImports();
  port.postMessage(reply);
  if (m.op === 'close') port.close();
});
