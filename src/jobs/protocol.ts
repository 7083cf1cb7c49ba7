import type { EngineName } from '../engine/engine';
import type { EvaluationReport } from '../engine/train-ensemble';
import type { PromotionDecision } from '../models/gate';
import type { ModelRecord } from '../models/repository';
import type { PackedModel } from '../models/transfer';
import type { JobProgress } from './jobs-repository';

/** What the training thread is started with: one job, and where to find the data and the models. */
export interface TrainingThreadData {
  jobId: string;
  params: Record<string, unknown>;
  dataDir: string;
  modelsDir: string;
  scale: { min: number; max: number };
  /** The engine a job uses when its params name none (ENGINE). */
  engine: 'auto' | EngineName;
  /** The engine the server loads checkpoints with: the active model is loaded the same way for the gate. */
  servingEngine: EngineName;
  threads: number;
}

/** The model a job trained, checkpointed and judged, ready to be recorded and served. */
export interface JobResult {
  /** The model as written (meta with file hashes) and its weights, transferred: the request thread builds its predictor from them without reading the files. */
  model: PackedModel;
  record: Omit<ModelRecord, 'id' | 'jobId' | 'path' | 'createdAt' | 'active' | 'broken'>;
  decision: PromotionDecision;
  report: EvaluationReport | null;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Request thread → training thread. */
export type ToTrainingThread =
  /** Stop between minibatches (cancel, time limit or shutdown: the request thread knows which). */
  | { type: 'abort' }
  /** The answer to `active?`: the model served now. */
  | { type: 'active'; modelId: string | null };

/** Training thread → request thread. */
export type FromTrainingThread =
  | { type: 'progress'; progress: JobProgress }
  | { type: 'log'; level: LogLevel; fields: Record<string, unknown>; msg: string }
  /** Which model is active now (asked just before the gate, so a model activated during training is the one compared). */
  | { type: 'active?' }
  | { type: 'done'; result: JobResult }
  | { type: 'failed'; message: string; cancelled: boolean };
