import { EngineUnavailableError } from '../engine';
import { loadNative, nativeLoadError } from '../native';
import type { NativeServingModel } from '../native';
import type { MfParams, MfState } from './model';

export interface MfNativeData {
  u: Int32Array;
  i: Int32Array;
  r: Float32Array;
  order: Int32Array;
}

export interface MfNativeOptions {
  batchSize: number;
  lr: number;
  lambda: number;
  lambdaBias: number;
  /** 0 = plain SGD, 1 = Adam. */
  optimizer: 0 | 1;
  beta1?: number;
  beta2?: number;
  eps?: number;
  step: number;
  threads: number;
  cancel?: Int32Array;
}

/** The biased MF functions of the compiled addon (src/native/mf.cc). */
export interface MfAddon {
  MfServingModel: new (model: MfParams) => NativeServingModel;
  mfTrainEpoch(
    model: MfParams & MfState,
    data: MfNativeData,
    opts: MfNativeOptions,
  ): Promise<{ sse: number; count: number; step: number; cancelled: boolean }>;
  mfPredict(model: MfParams, users: Int32Array, items: Int32Array): Float32Array;
  mfLossAndGrad(
    model: MfParams,
    data: MfNativeData,
    reg: { lambda: number; lambdaBias: number },
  ): { loss: number; gUsers: Float32Array; gItems: Float32Array };
}

/** The MF kernel, or null when the addon was not built (or predates it). */
export function loadMfAddon(): MfAddon | null {
  const addon = loadNative() as unknown as Partial<MfAddon> | null;
  return addon && typeof addon.mfTrainEpoch === 'function' ? (addon as MfAddon) : null;
}

export function requireMfAddon(): MfAddon {
  const addon = loadMfAddon();
  if (!addon) throw new EngineUnavailableError(`the mf kernel is unavailable: ${nativeLoadError() ?? 'the addon has no mf functions (rebuild it)'}`);
  return addon;
}
