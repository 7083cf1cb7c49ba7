import { loadNative, type NativeServingModel } from '../native';
import type { ItemRatings } from './ratings';

/** The weights: encoder and decoder rows per user (nUsers × hidden), encoder bias b, decoder bias c. */
export interface AutorecWeights {
  nUsers: number;
  nItems: number;
  hidden: number;
  W: Float32Array;
  b: Float32Array;
  V: Float32Array;
  c: Float32Array;
}

/** Adam's moments, shaped like the weights. */
export interface AutorecSlots {
  mW: Float32Array;
  vW: Float32Array;
  mb: Float32Array;
  vb: Float32Array;
  mV: Float32Array;
  vV: Float32Array;
  mc: Float32Array;
  vc: Float32Array;
}

/**
 * What scoring needs: the decoder and every item's code h_i (nItems × hidden); and the encoder
 * (W: nUsers × hidden, b), which turns a new item's ratings into its code (item fold-in). A
 * checkpoint saved before the encoder was kept has none.
 */
export interface AutorecServed {
  nUsers: number;
  nItems: number;
  hidden: number;
  V: Float32Array;
  c: Float32Array;
  codes: Float32Array;
  encW?: Float32Array;
  encB?: Float32Array;
}

export interface AutorecGradients {
  loss: number;
  gW: Float32Array;
  gb: Float32Array;
  gV: Float32Array;
  gc: Float32Array;
}

/** The I-AutoRec functions of the native addon (src/native/autorec.cc). */
export interface AutorecAddon {
  kernel: string;
  AutorecServing: new (served: AutorecServed) => NativeServingModel;
  autorecTrainEpoch(
    model: AutorecWeights & AutorecSlots,
    data: ItemRatings & { order: Int32Array },
    opts: {
      batchSize: number;
      lr: number;
      lambda: number;
      step: number;
      threads: number;
      cancel?: Int32Array;
      /** Receives every item's code (nItems × hidden) after the epoch. */
      codes?: Float32Array;
      beta1?: number;
      beta2?: number;
      eps?: number;
    },
  ): Promise<{ sse: number; count: number; step: number; cancelled: boolean }>;
  /** Loss of one pass over data.order with the whole penalty λ/2·(‖W‖² + ‖V‖²), and its gradient. */
  autorecLossAndGrad(model: AutorecWeights, data: ItemRatings & { order: Int32Array }, lambda: number): AutorecGradients;
  autorecCodes(model: AutorecWeights, ratings: ItemRatings): Float32Array;
  autorecPredict(served: AutorecServed, users: Int32Array, items: Int32Array): Float32Array;
}

/** The addon's I-AutoRec part, or null when the addon was not built (or predates it). */
export function loadAutorecNative(): AutorecAddon | null {
  const addon = loadNative() as unknown as Partial<AutorecAddon> | null;
  return addon && typeof addon.autorecTrainEpoch === 'function' ? (addon as AutorecAddon) : null;
}
