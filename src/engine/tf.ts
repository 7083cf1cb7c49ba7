/**
 * TensorFlow.js, loaded once: the native TensorFlow binding (@tensorflow/tfjs-node) where it is
 * installed, otherwise the portable @tensorflow/tfjs with its 'cpu' backend.
 */
import type * as TF from '@tensorflow/tfjs';

export type Tf = typeof TF;

let tf: Tf | null = null;
let backendName = '';

export function loadTf(): Tf {
  if (tf) return tf;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    tf = require('@tensorflow/tfjs-node') as Tf;
    backendName = 'tensorflow (tfjs-node)';
  } catch {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    tf = require('@tensorflow/tfjs') as Tf;
    tf.setBackend('cpu');
    // The backend's one-time advice to install tfjs-node would go to the console, outside the service's logs.
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
    backendName = 'cpu (portable)';
  }
  return tf;
}

export function tfBackend(): string {
  loadTf();
  return backendName;
}
