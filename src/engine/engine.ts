import { CodedError } from './coded-error';
import type { Dataset } from './dataset';
import type { TrainParams } from './params';
import type { ModelParams } from './state';

export type EngineName = 'native' | 'tfjs';

/** The engine asked for cannot run in this installation (for example, the kernel was not built). */
export class EngineUnavailableError extends CodedError {
  readonly code = 'RECO_ERR_VALIDATION';
}

/** What one epoch needs besides the model: the training positions in visiting order and the per-row regularisation. */
export interface EpochInput {
  data: Dataset;
  order: Int32Array;
  regU: Float32Array;
  regI: Float32Array;
  lr: number;
}

export interface EpochResult {
  sse: number;
  count: number;
  cancelled: boolean;
}

/** A training run in progress: owns optimiser state and updates `params` in place. */
export interface TrainSession {
  epoch(input: EpochInput, cancel: Int32Array): Promise<EpochResult>;
  /** Steps taken so far. */
  readonly step: number;
  dispose(): void;
}

export interface Engine {
  readonly name: EngineName;
  /** Human-readable detail: kernel variant or TF.js backend. */
  readonly detail: string;
  createSession(params: ModelParams, settings: TrainParams): Promise<TrainSession>;
  /** Raw network outputs (not clipped) for index pairs. */
  predict(params: ModelParams, u: Int32Array, i: Int32Array): Float32Array;
  /** A network for parameters that will not change again (serving): set-up work is done once. */
  prepare(params: ModelParams): ServingNet;
}

/** Raw network outputs (not clipped) for a model being served. */
export interface ServingNet {
  /** Writes the outputs for the pairs (u[k], i[k]), k < n, to out[0, n). */
  score(u: Int32Array, i: Int32Array, n: number, out: Float32Array): void;
  /** Writes the outputs for user u against items[0, n) to out; off the JavaScript thread where the engine can. */
  scoreUser(u: number, items: Int32Array, n: number, out: Float32Array): Promise<void>;
  /** Writes the output for user u against every item k to out[k]; off the JavaScript thread where the engine can. */
  scoreAll(u: number, out: Float32Array): Promise<void>;
  /** As score, for one user given by a row of user parameters (a folded-in user, see TrainedMember.foldIn) against items[0, n). */
  scoreRow(row: Float32Array, items: Int32Array, n: number, out: Float32Array): void;
  /** As scoreAll, for a user given by a row of user parameters. */
  scoreRowAll(row: Float32Array, out: Float32Array): Promise<void>;
}
