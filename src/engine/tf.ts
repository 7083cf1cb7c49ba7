/**
 * TensorFlow.js, loaded once: the native TensorFlow binding (@tensorflow/tfjs-node) where it is
 * installed, otherwise tfjs-core and tfjs-layers on the portable 'cpu' backend. Only those
 * packages are dependencies: the @tensorflow/tfjs umbrella would also bring the WebGL backend,
 * the converter and tfjs-data, which a server never loads.
 */
import type * as Core from '@tensorflow/tfjs-core';
import type * as Layers from '@tensorflow/tfjs-layers';

// The engine's files name TF.js types through this module (`import type * as TF from './tf'`).
export type * from '@tensorflow/tfjs-core';
export type * from '@tensorflow/tfjs-layers';

/** What the engine calls: the union of tfjs-core and tfjs-layers, as the umbrella package exports it. */
export type Tf = typeof Core & typeof Layers;

let tf: Tf | null = null;
let backendName = '';

export function loadTf(): Tf {
  if (tf) return tf;
  // require() rather than import: TF.js is loaded on first use only (the native engine's
  // serving path never needs it), and tfjs-node is an optional dependency that may be absent.
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy and optional, see above
    tf = require('@tensorflow/tfjs-node') as Tf;
    backendName = 'tensorflow (tfjs-node)';
  } catch {
    /* eslint-disable @typescript-eslint/no-require-imports -- lazy, see above */
    const core = require('@tensorflow/tfjs-core') as typeof Core;
    // Loading the CPU backend registers it with tfjs-core.
    require('@tensorflow/tfjs-backend-cpu');
    const layers = require('@tensorflow/tfjs-layers') as typeof Layers;
    /* eslint-enable @typescript-eslint/no-require-imports */
    tf = { ...core, ...layers };
    // The CPU backend initialises synchronously; the promise only reports success.
    void tf.setBackend('cpu');
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
