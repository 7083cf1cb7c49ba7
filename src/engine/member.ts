import type { Dataset } from './dataset';
import type { ServingNet } from './engine';

/**
 * The model kinds a job can train. An ensemble is a list of members of these kinds, all
 * trained on the same dataset (so they share its user and item indexes) and blended linearly.
 */
export const MEMBER_KINDS = ['nnmf', 'mf', 'autorec'] as const;
export type MemberKindName = (typeof MEMBER_KINDS)[number];

/** Positions into a dataset: what a member trains on and what it stops early on. */
export interface MemberSplit {
  train: Int32Array;
  validation: Int32Array;
}

export interface MemberProgress {
  epoch: number;
  trainRmse: number;
  validationRmse: number;
  seconds: number;
  elapsedSeconds: number;
  /** This epoch's parameters are the best so far on the validation positions. */
  best: boolean;
}

export interface MemberTrainOptions {
  scale: { min: number; max: number };
  /** Native kernel threads for this run. */
  threads: number;
  signal?: AbortSignal;
  onEpoch?: (p: MemberProgress) => void;
}

/** Shape of the index space a member was trained on. */
export interface MemberDims {
  nUsers: number;
  nItems: number;
}

/** The index space and the settings every trained member keeps (its parameters are its own). */
export abstract class MemberBase {
  readonly dims: MemberDims;

  constructor(dims: MemberDims, readonly settings: Record<string, unknown>) {
    this.dims = { nUsers: dims.nUsers, nItems: dims.nItems };
  }
}

/**
 * A trained member. It scores index pairs of the dataset it was trained on; IDs, fallbacks,
 * clipping and blending are the caller's business.
 */
export interface TrainedMember {
  readonly kind: MemberKindName;
  /** The resolved settings it was trained with (stored in the checkpoint's meta). */
  readonly settings: Record<string, unknown>;
  readonly dims: MemberDims;
  /** Raw outputs (not clipped) for the pairs (u[k], i[k]); synchronous, on the calling thread. */
  predict(u: Int32Array, i: Int32Array): Float32Array;
  /** Set-up for serving done once (precomputed item parts); scoring one user against the catalogue off the JS thread where it can. */
  prepare(): ServingNet;
  /** One vector per item (row-major, nItems × dim) whose cosine similarity says which items are alike. */
  itemEmbedding(): { dim: number; data: Float32Array };
  /** Writes the member's files into `dir` (which exists): a TF.js layers model (model.json + weights.bin). */
  save(dir: string): Promise<void>;
}

export interface MemberTrainResult {
  member: TrainedMember;
  history: MemberProgress[];
  epochs: number;
  bestEpoch: number;
  /** Validation RMSE (unclipped) of the kept parameters. */
  validationRmse: number;
  seconds: number;
}

/** One model kind: settings with their checks, training, and loading from a checkpoint folder. */
export interface MemberKind<S extends object> {
  readonly kind: MemberKindName;
  readonly defaults: S;
  /** Merges given settings over the defaults; throws ParamError on unknown names and bad values. */
  resolve(given: Record<string, unknown>): S;
  train(ds: Dataset, split: MemberSplit, settings: S, opts: MemberTrainOptions): Promise<MemberTrainResult>;
  /** Reads what save() wrote; `settings` and `dims` come from the checkpoint's meta. */
  load(dir: string, settings: Record<string, unknown>, dims: MemberDims): Promise<TrainedMember>;
}
