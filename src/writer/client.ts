import type { Worker } from 'node:worker_threads';
import type { Readable } from 'node:stream';
import type { ImportFormat } from '../ratings/formats';
import type { BatchProblem } from '../ratings/validate';
import type { ImportSummary } from './import-session';
import type { Reply, Request, Results, Started, WireError, WriterData } from './protocol';
import { returnFreedMemory } from '../threads';
import { nextChunk } from './body-reader';
import { startThread } from './thread-entry';

/** A write that failed in the writer thread; `code` is SQLite's (SQLITE_FULL...) when it came from there. */
export class WriteError extends Error {
  readonly code?: string;
  /** For an import: what had been committed when it stopped. */
  readonly summary?: ImportSummary;
  /** Set when the request itself was at fault (a 4xx): its error kind, message and details. */
  readonly problem?: BatchProblem;
  constructor(wire: WireError) {
    super(wire.message);
    this.code = wire.code;
    this.summary = wire.summary;
    this.problem = wire.problem;
  }
}

/** What an import had committed when it stopped with this error, when the error carries it. */
export function importSummaryOf(err: unknown): ImportSummary | undefined {
  return err instanceof Error && 'summary' in err ? (err.summary as ImportSummary | undefined) : undefined;
}

export interface ImportRequest {
  format: ImportFormat;
  atomic: boolean;
  /** Body bytes accepted; beyond them the import is cut at the last whole line. */
  maxBytes: number;
  /** Longest wait for the next piece of the body. */
  idleTimeoutMs: number;
}

export interface ImportOutcome {
  summary: ImportSummary;
  /** The body went past maxBytes: only the lines before the limit were imported. */
  truncated: boolean;
}

// Body bytes gathered into one message, and messages awaiting their reply, before reading stops:
// together they bound the upload held in memory at about 2 MB per import.
const MESSAGE_BYTES = 512 * 1024;
const IN_FLIGHT = 4;

type Op = Request['op'];
type Args<K extends Op> = Omit<Extract<Request, { op: K }>, 'id' | 'op'>;

/**
 * The request thread's side of the writer thread: each call posts one message and resolves
 * with its reply. close() waits for every write already sent, then stops the thread.
 */
export class WriterClient {
  private nextId = 1;
  private nextImport = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    onFailure: (err: Error) => void,
  ) {
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new WriteError(m.error));
    });
    const fail = (err: Error) => {
      if (this.failure === null && !this.closing) onFailure(err);
      this.failure ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`writer thread exited (code ${code})`)));
  }

  /** False once the thread has died: writes then fail, and readiness says so. */
  get running(): boolean {
    return this.failure === null;
  }

  /** Starts the thread and waits until it has opened the database. */
  static start(data: WriterData, onFailure: (err: Error) => void = () => undefined): Promise<WriterClient> {
    const worker = startThread(__filename, 'worker', { workerData: data });
    return new Promise((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`writer thread exited while starting (code ${code})`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (m: Started) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (m.ready) resolve(new WriterClient(worker, onFailure));
        else reject(new WriteError(m.error));
      });
    });
  }

  private call<K extends Op>(op: K, args: Args<K>, transfer?: ArrayBuffer[]): Promise<Results[K]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Results[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, ...args }, transfer);
    });
  }

  /** Parses, checks and stores the JSON text of POST /ratings in the writer thread; a bad body rejects with `problem` set. */
  upsertJson(body: Buffer, maxBatch: number) {
    // Copied into a buffer of its own so it can be moved, not cloned: request bodies may share a pooled buffer.
    const own = new Uint8Array(body);
    return this.call('upsertJson', { body: own, maxBatch }, [own.buffer]);
  }

  deleteUser(userId: string) {
    return this.call('deleteUser', { userId });
  }

  deleteRating(userId: string, itemId: string) {
    return this.call('deleteRating', { userId, itemId });
  }

  putItem(itemId: string, title: string | null, attributes: Record<string, unknown> | null, hidden?: boolean) {
    return this.call('putItem', { itemId, title, attributes, hidden });
  }

  deleteItem(itemId: string) {
    return this.call('deleteItem', { itemId });
  }

  /** Scrubs a user from every checkpoint under modelsDir (see engine/erasure.ts); the IDs of the models changed. */
  eraseFromCheckpoints(modelsDir: string, userId: string) {
    return this.call('eraseFromCheckpoints', { modelsDir, userId });
  }

  /**
   * Streams a body into the writer thread: bytes gathered into messages, at most IN_FLIGHT
   * unanswered, the body read no faster than the writer takes it. A body that errors, stalls
   * past idleTimeoutMs or is cut off ends the import: a non-atomic one stores every whole line
   * received, an atomic one nothing; the error carries the counts as `summary`.
   */
  async importStream(body: Readable, req: ImportRequest): Promise<ImportOutcome> {
    try {
      return await this.streamImport(body, req);
    } finally {
      // A large import leaves the writer thread's heap with free pages between the blocks it keeps.
      void returnFreedMemory();
    }
  }

  private async streamImport(body: Readable, req: ImportRequest): Promise<ImportOutcome> {
    const importId = this.nextImport++;
    await this.call('importStart', { importId, format: req.format, atomic: req.atomic });
    const inFlight: Promise<unknown>[] = [];
    // Body bytes are copied once, into the message that moves them to the thread (request chunks
    // may share a pooled buffer, so they are never moved themselves).
    let message = new Uint8Array(MESSAGE_BYTES);
    let used = 0;
    let total = 0;
    let truncated = false;
    const send = async () => {
      if (used === 0) return;
      const own = used === message.length ? message : message.slice(0, used);
      message = new Uint8Array(MESSAGE_BYTES);
      used = 0;
      const p = this.call('importChunk', { importId, chunk: own }, [own.buffer]);
      p.catch(() => undefined);
      inFlight.push(p);
      if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
    };
    try {
      for (;;) {
        const chunk = await nextChunk(body, req.idleTimeoutMs);
        if (chunk === null) break;
        let piece = chunk;
        if (total + chunk.length > req.maxBytes) {
          piece = chunk.subarray(0, req.maxBytes - total);
          truncated = true;
        }
        total += piece.length;
        for (let at = 0; at < piece.length;) {
          const n = Math.min(piece.length - at, message.length - used);
          message.set(piece.subarray(at, at + n), used);
          used += n;
          at += n;
          if (used === message.length) await send();
        }
        if (truncated) break;
      }
      await send();
      await Promise.all(inFlight);
    } catch (err) {
      // What was received still goes to the writer (a non-atomic import keeps its whole lines),
      // and every reply is awaited before the end, so the summary counts every committed row.
      if (!(err instanceof WriteError) && !req.atomic) await send().catch(() => undefined);
      await Promise.allSettled(inFlight);
      if (err instanceof WriteError) {
        await this.call('importAbort', { importId, keepLines: false }).catch(() => null);
        throw err;
      }
      const summary = await this.call('importAbort', { importId, keepLines: !req.atomic }).catch((e: unknown) => (e as WriteError).summary ?? null);
      throw Object.assign(err as Error, { summary: summary ?? undefined });
    }
    if (truncated && req.atomic) {
      // An atomic import is all or nothing: cut short, it stores nothing.
      const summary = await this.call('importAbort', { importId, keepLines: false });
      return { summary: { ...summary!, inserted: 0, updated: 0 }, truncated };
    }
    const summary = await this.call('importEnd', { importId, truncated });
    return { summary, truncated };
  }

  /** Waits for every write already sent, then stops the thread (it closes its connection). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.failure) return;
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      await this.call('close', {}).catch(() => undefined);
      await exited;
    })();
    return this.closing;
  }
}
