import type { Worker } from 'node:worker_threads';
import { startThread } from '../writer/thread-entry';
import type { JobProgress } from './jobs-repository';
import type { FromTrainingThread, JobResult, LogLevel, ToTrainingThread, TrainingThreadData } from './protocol';

/** The job was stopped through its signal (cancel, time limit or shutdown). */
export class ThreadAbortedError extends Error {}

export interface ThreadHandlers {
  progress(p: JobProgress): void;
  log(level: LogLevel, fields: Record<string, unknown>, msg: string): void;
  activeModelId(): string | null;
}

export interface ThreadOptions {
  /** How long a thread asked to stop may take before it is terminated. */
  stopGraceMs: number;
  /** V8 heap limits for the thread (tests use them to make it fail). */
  resourceLimits?: ConstructorParameters<typeof Worker>[1] extends infer O ? (O extends { resourceLimits?: infer R } ? R : never) : never;
}

/**
 * Runs one job in a training thread of its own and resolves with what it trained. Aborting
 * `signal` asks the thread to stop between minibatches; one that has not stopped after
 * `stopGraceMs` is terminated. A thread that dies (an uncaught error, out of memory) rejects.
 */
export function runTrainingThread(data: TrainingThreadData, signal: AbortSignal, on: ThreadHandlers, opts: ThreadOptions): Promise<JobResult> {
  return new Promise<JobResult>((resolve, reject) => {
    const worker = startThread(__filename, 'worker', { workerData: data, resourceLimits: opts.resourceLimits });
    let settled = false;
    let outcome: Extract<FromTrainingThread, { type: 'done' | 'failed' }> | null = null;
    let grace: NodeJS.Timeout | null = null;
    const send = (m: ToTrainingThread) => worker.postMessage(m);
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      send({ type: 'abort' });
      grace = setTimeout(() => {
        on.log('warn', { graceMs: opts.stopGraceMs }, 'the training thread did not stop when asked; terminating it');
        void worker.terminate();
      }, opts.stopGraceMs);
      grace.unref();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });

    worker.on('message', (m: FromTrainingThread) => {
      switch (m.type) {
        case 'progress':
          on.progress(m.progress);
          break;
        case 'log':
          on.log(m.level, m.fields, m.msg);
          break;
        case 'active?':
          send({ type: 'active', modelId: on.activeModelId() });
          break;
        case 'done':
        case 'failed':
          // The job body has returned: nothing runs in the thread any more, so it is ended now
          // and the outcome settles once it has gone (its memory with it).
          outcome ??= m;
          void worker.terminate();
          break;
      }
    });
    worker.on('error', (err) => {
      outcome ??= { type: 'failed', message: `the training thread failed: ${err.message}`, cancelled: false };
    });
    worker.on('exit', (code) => {
      if (grace) clearTimeout(grace);
      settle(() => {
        if (outcome?.type === 'done') resolve(outcome.result);
        else if (outcome) reject(outcome.cancelled ? new ThreadAbortedError(outcome.message) : new Error(outcome.message));
        else if (signal.aborted) reject(new ThreadAbortedError('the training thread was stopped'));
        else reject(new Error(`the training thread stopped unexpectedly (exit code ${code})`));
      });
    });
  });
}
