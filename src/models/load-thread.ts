/**
 * A loading thread: reads one checkpoint, verifies every file's SHA-256, parses the members'
 * weights and posts them back as a packed model whose ArrayBuffers are transferred, so the
 * request thread neither reads nor hashes a file. It ends after its one answer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CheckpointError, loadCheckpoint } from '../engine/checkpoint';
import { memberKinds } from '../engine/kinds';
import { selectEngine } from '../engine/select';
import { lowerThreadPriority } from '../threads';
import type { FromLoadThread, LoadThreadData } from './loader';
import { CheckpointStore } from './store';
import { packModel } from './transfer';

// Reading and hashing yield the core to the request thread, like training.
const LOADING_NICE = 10;

const port = parentPort!;
const data = workerData as LoadThreadData;
const post = (m: FromLoadThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

lowerThreadPriority(LOADING_NICE);

(async () => {
  const store = new CheckpointStore(data.modelsDir);
  const ckpt = await loadCheckpoint(store.dirFor(data.modelId), memberKinds(selectEngine(data.engine), 'serve'));
  return packModel(data.modelId, ckpt.meta, ckpt.model);
})().then(
  ({ packed, transfer }) => post({ type: 'done', model: packed }, transfer),
  (err: unknown) => post({ type: 'failed', message: err instanceof Error ? err.message : String(err), broken: err instanceof CheckpointError }),
);
