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

  constructor(
    dims: MemberDims,
    readonly settings: Record<string, unknown>,
  ) {
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
  /** Floats in one user's row of parameters, as foldIn returns it and ServingNet.scoreRow takes it. */
  readonly userRowWidth: number;
  /**
   * Fold-in: a user's row fitted to their ratings (`items` are this member's indexes) with
   * everything else frozen and the training penalty, for a user the model does not know or whose
   * ratings changed since training. `from` is the trained row to start from, or null. Off the
   * JavaScript thread where the kernel is built; throws FoldInUnavailableError where it cannot.
   */
  foldIn(items: Int32Array, ratings: Float32Array, from: number | null): Promise<Float32Array>;
  /** Zeroes trained user u's parameters (erasure). */
  eraseUser(u: number): void;
  /** Floats in one item's row, as foldInItem returns it and scoreFolded takes it. */
  readonly itemRowWidth: number;
  /**
   * Item-side fold-in: a row for an item the model does not know, fitted to its ratings by
   * `users` (this member's indexes) with everything else frozen and the training penalty. Off
   * the JavaScript thread where it is heavy; throws FoldInUnavailableError where it cannot.
   */
  foldInItem(users: Int32Array, ratings: Float32Array): Promise<Float32Array>;
  /**
   * Raw outputs for one user against folded-in items: `user` is a trained user's index or a
   * folded-in user's row (from foldIn), `itemRows` the items' rows from foldInItem laid end to
   * end (out.length of them). Synchronous: a few items at a time.
   */
  scoreFolded(user: number | Float32Array, itemRows: Float32Array, out: Float32Array): void;
}

/** Fold-in needs the native kernel for this kind, and it was not built. */
export class FoldInUnavailableError extends Error {}

/** Row u of a table of rows of `width` floats, set to zero. */
export function zeroRow(table: Float32Array, u: number, width: number): void {
  table.fill(0, u * width, (u + 1) * width);
}

/**
 * The design of a ridge fold-in over rows of `width` floats (factors | bias): for each rating,
 * the other side's factors and a 1 (for this side's bias), and the target less the global mean
 * and the other side's bias. The same system for a user (other side: items) and an item.
 */
export function ridgeDesign(
  table: Float32Array,
  width: number,
  others: Int32Array,
  ratings: Float32Array,
  mean: number,
): { X: Float32Array; y: Float32Array } {
  const k = width - 1;
  const n = others.length;
  const X = new Float32Array(n * width);
  const y = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const at = others[j] * width;
    X.set(table.subarray(at, at + k), j * width);
    X[j * width + k] = 1;
    y[j] = ratings[j] - mean - table[at + k];
  }
  return { X, y };
}

/** The mean of the rows of a table (width floats each): where fold-in starts for a new user. */
export function meanRow(table: Float32Array, width: number): Float32Array {
  const rows = table.length / width;
  const sum = new Float64Array(width);
  for (let r = 0; r < rows; r++) for (let k = 0; k < width; k++) sum[k] += table[r * width + k];
  return Float32Array.from(sum, (s) => (rows > 0 ? s / rows : 0));
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

/**
 * Scoring of folded-in users for a kind whose pair scorer reads the model's arrays in place: the
 * row becomes the only user of a one-user view of the model, scored on the pairs (0, item).
 * `scoreView` builds that view around the row and scores `users` × `items` (all users 0) into `out`.
 */
export function oneUserRowScoring(
  nItems: number,
  scoreView: (row: Float32Array, users: Int32Array, items: Int32Array, out: Float32Array) => void,
): Pick<ServingNet, 'scoreRow' | 'scoreRowAll'> {
  // Both index arrays are made on first use: a native serving object that scores whole rows itself never needs them.
  let all: Int32Array | null = null;
  let zeros = new Int32Array(0);
  const scoreRow = (row: Float32Array, items: Int32Array, n: number, out: Float32Array) => {
    if (zeros.length < n) zeros = new Int32Array(n);
    scoreView(row, zeros.subarray(0, n), items.subarray(0, n), out);
  };
  return { scoreRow, scoreRowAll: async (row, out) => scoreRow(row, (all ??= Int32Array.from({ length: nItems }, (_, k) => k)), nItems, out) };
}
