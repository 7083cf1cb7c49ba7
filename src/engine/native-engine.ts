import { EngineUnavailableError, type Engine, type EpochInput, type ServingNet, type TrainSession } from './engine';
import { loadNative, nativeLoadError, type NativeAddon } from './native';
import type { TrainParams } from './params';
import { zeroOptimizerState, type ModelParams } from './state';

export class NativeEngine implements Engine {
  readonly name = 'native' as const;
  readonly detail: string;
  private readonly addon: NativeAddon;

  constructor() {
    const addon = loadNative();
    if (!addon) throw new EngineUnavailableError(`native engine unavailable: ${nativeLoadError()}`);
    this.addon = addon;
    this.detail = `fused C++ kernel (${addon.kernel})`;
  }

  async createSession(params: ModelParams, settings: TrainParams): Promise<TrainSession> {
    // Shares the parameter arrays (the kernel updates them in place) and adds the optimiser slots.
    const model = { ...params, ...zeroOptimizerState(params) };
    const addon = this.addon;
    let step = 0;
    return {
      get step() {
        return step;
      },
      async epoch(input: EpochInput, cancel: Int32Array) {
        const res = await addon.trainEpoch(
          model,
          { u: input.data.u, i: input.data.i, r: input.data.r, order: input.order, regU: input.regU, regI: input.regI },
          {
            batchSize: settings.batchSize,
            lr: input.lr,
            optimizer: settings.optimizer === 'adam' ? 1 : 0,
            step,
            alternating: settings.alternating,
            threads: settings.threads,
            cancel,
          },
        );
        step = res.step;
        return res;
      },
      dispose() {},
    };
  }

  predict(params: ModelParams, u: Int32Array, i: Int32Array): Float32Array {
    return this.addon.predict(params, u, i);
  }

  prepare(params: ModelParams): ServingNet {
    return new this.addon.ServingModel(params);
  }
}
