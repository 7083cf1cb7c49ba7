import type { ImportFormat } from '../ratings/formats';
import type { BatchProblem, RatingScale } from '../ratings/validate';
import type { ImportSummary } from './import-session';
import type { UpsertResult } from './store';

/** What the writer thread is started with. */
export interface WriterData {
  dataDir: string;
  scale: RatingScale;
}

/**
 * Requests to the writer thread. Each carries an id and gets exactly one Reply with it, in the
 * order sent: the thread handles one message at a time, so writes commit in arrival order.
 * An import is a sequence importStart, importChunk..., then importEnd or importAbort; the sender
 * awaits chunk replies to bound how much of an upload is in flight (backpressure).
 */
export type Request =
  | { id: number; op: 'upsertJson'; body: Uint8Array; maxBatch: number }
  | { id: number; op: 'deleteUser'; userId: string }
  | { id: number; op: 'deleteRating'; userId: string; itemId: string }
  | { id: number; op: 'putItem'; itemId: string; title: string | null; attributes: Record<string, unknown> | null; hidden?: boolean }
  | { id: number; op: 'deleteItem'; itemId: string }
  | { id: number; op: 'eraseFromCheckpoints'; modelsDir: string; userId: string }
  | { id: number; op: 'importStart'; importId: number; format: ImportFormat; atomic: boolean }
  | { id: number; op: 'importChunk'; importId: number; chunk: Uint8Array }
  | { id: number; op: 'importEnd'; importId: number; truncated: boolean }
  | { id: number; op: 'importAbort'; importId: number; keepLines: boolean }
  | { id: number; op: 'close' };

export interface Results {
  upsertJson: UpsertResult;
  deleteUser: boolean;
  deleteRating: boolean;
  putItem: boolean;
  deleteItem: boolean;
  eraseFromCheckpoints: string[];
  importStart: null;
  importChunk: null;
  importEnd: ImportSummary;
  importAbort: ImportSummary | null;
  close: null;
}

/** An error as it crosses the thread boundary: SQLite's code kept, and an import's committed counts. */
export interface WireError {
  message: string;
  code?: string;
  summary?: ImportSummary;
  /** A refused request body: the catalogue's error kind and the rows at fault. */
  problem?: BatchProblem;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** Sent once the thread has opened the database, or could not. */
export type Started = { ready: true } | { ready: false; error: WireError };
