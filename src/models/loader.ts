import { CheckpointError } from '../engine/checkpoint';
import type { EngineName } from '../engine/engine';
import { returnFreedMemory } from '../threads';
import { startThread } from '../writer/thread-entry';
import type { PackedModel } from './transfer';

/** What a loading thread is started with: one checkpoint, and the engine NNMF members will serve on. */
export interface LoadThreadData {
  modelsDir: string;
  modelId: string;
  engine: EngineName;
}

/** Loading thread → request thread: its one answer. */
export type FromLoadThread =
  | { type: 'done'; model: PackedModel }
  /** `broken`: the checkpoint itself is at fault (missing, truncated or altered files, an unknown format). */
  | { type: 'failed'; message: string; broken: boolean };

/**
 * Reads and verifies a checkpoint in a thread of its own (see load-thread.ts) and resolves with
 * its weights, transferred: building the predictor from them (predictorFrom) is all that is left
 * for the calling thread. Rejects with a CheckpointError when the checkpoint cannot be served.
 */
export function loadInThread(data: LoadThreadData): Promise<PackedModel> {
  return new Promise<PackedModel>((resolve, reject) => {
    const worker = startThread(__filename, 'load-thread', { workerData: data });
    let answer: FromLoadThread | null = null;
    worker.on('message', (m: FromLoadThread) => {
      answer ??= m;
      void worker.terminate();
    });
    worker.on('error', (err) => {
      answer ??= { type: 'failed', message: `the loading thread failed: ${err.message}`, broken: false };
    });
    worker.on('exit', (code) => {
      void returnFreedMemory();
      if (answer?.type === 'done') resolve(answer.model);
      else if (answer?.broken) reject(new CheckpointError(answer.message));
      else reject(new Error(answer?.message ?? `the loading thread stopped unexpectedly (exit code ${code})`));
    });
  });
}
