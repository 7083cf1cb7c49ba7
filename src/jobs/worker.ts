/**
 * The training thread: one job's snapshot, training, checkpoint and gate, off the request
 * thread. It reads the ratings on a read-only connection of its own and writes nothing to the
 * database; the request thread records progress and the result, and serves the model from the
 * weights this thread hands over.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrainingCancelledError } from '../engine/trainer';
import { lowerThreadPriority } from '../threads';
import type { FromTrainingThread, ToTrainingThread, TrainingThreadData } from './protocol';
import { trainJob } from './train-job';

// Its own work between epochs (averaging, validation, the checkpoint, the gate) yields the core
// to the request thread, like the kernels' threads.
const TRAINING_NICE = 10;

const port = parentPort!;
const data = workerData as TrainingThreadData;
const ctl = new AbortController();
let answerActive: ((id: string | null) => void) | null = null;

const post = (m: FromTrainingThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', (m: ToTrainingThread) => {
  if (m.type === 'abort') ctl.abort();
  else if (m.type === 'active') answerActive?.(m.modelId);
});

lowerThreadPriority(TRAINING_NICE);

trainJob(data, ctl.signal, {
  progress: (progress) => post({ type: 'progress', progress }),
  log: (level, fields, msg) => post({ type: 'log', level, fields, msg }),
  activeModelId: () =>
    new Promise((resolve) => {
      answerActive = resolve;
      post({ type: 'active?' });
    }),
}).then(
  ({ result, transfer }) => post({ type: 'done', result }, transfer),
  (err: unknown) =>
    post({
      type: 'failed',
      message: err instanceof Error ? err.message : String(err),
      cancelled: ctl.signal.aborted || err instanceof TrainingCancelledError,
    }),
);
