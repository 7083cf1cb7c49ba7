import type { Dataset } from './dataset';
import type { Engine, ServingNet } from './engine';
import { readLayersModel, writeLayersModel } from './layers-io';
import { buildLayersModel, paramsFromModel, setModelWeights } from './layers-model';
import {
  FoldInUnavailableError,
  meanRow,
  zeroRow,
  type MemberDims,
  type MemberKind,
  type MemberSplit,
  type MemberTrainOptions,
  type MemberTrainResult,
  type TrainedMember,
} from './member';
import { loadNative } from './native';
import { DEFAULT_PARAMS, LAMBDA_PER_RATING, resolveParams, type TrainParams } from './params';
import { rowWidth, type Dims, type ModelParams } from './state';
import { loadTf } from './tf';
import { train } from './trainer';

/** Full-batch Adam steps and step size of an NNMF fold-in. */
export const FOLD_IN_STEPS = 40;
export const FOLD_IN_LR = 0.05;

/** A trained NNMF network and its latents, served by the engine it was given. */
export class NnmfMember implements TrainedMember {
  readonly kind = 'nnmf' as const;
  readonly dims: MemberDims;

  readonly settings: Record<string, unknown>;

  constructor(
    readonly params: ModelParams,
    settings: Record<string, unknown>,
    private readonly engine: Engine,
  ) {
    this.dims = { nUsers: params.nUsers, nItems: params.nItems };
    // The architecture always comes from the parameters themselves, so a checkpoint reloads them whatever the caller passed.
    this.settings = { ...settings, d: params.d, dp: params.dp, hidden: [params.h1, params.h2, params.h3], useBias: params.useBias };
  }

  predict(u: Int32Array, i: Int32Array): Float32Array {
    return this.engine.predict(this.params, u, i);
  }

  prepare(): ServingNet {
    return this.engine.prepare(this.params);
  }

  get userRowWidth(): number {
    return rowWidth(this.params);
  }

  private startRow: Float32Array | null = null;

  /**
   * Adam steps on the user's row [U, U', bias] alone, from their trained row or from the mean
   * one, on the objective of training: Σ (r − y)² + λ‖row‖² (λ is the whole penalty per user,
   * see regWeights). FOLD_IN_STEPS full-batch steps reach within 0.01 RMSE of a retrained model
   * in bench:foldin.
   */
  async foldIn(items: Int32Array, ratings: Float32Array, from: number | null): Promise<Float32Array> {
    const addon = loadNative();
    if (!addon) throw new FoldInUnavailableError('NNMF fold-in needs the native kernel');
    const p = this.params;
    const R = rowWidth(p);
    let row: Float32Array;
    if (from !== null) row = p.users.slice(from * R, (from + 1) * R);
    else row = (this.startRow ??= meanRow(p.users, R)).slice();
    await addon.foldIn(p, items, ratings, row, { lambda: this.foldInLambda(ratings.length), lr: FOLD_IN_LR, steps: FOLD_IN_STEPS });
    return row;
  }

  eraseUser(u: number): void {
    zeroRow(this.params.users, u, rowWidth(this.params));
  }

  get itemRowWidth(): number {
    return rowWidth(this.params);
  }

  private itemStartRow: Float32Array | null = null;

  /**
   * The item side of foldIn: Adam steps on the item's row [V, V', bias] alone, from the mean item
   * row, with the network and every user row frozen, on Σ (r − y)² + λ‖row‖² (training charges
   * each item's rows λ in all, as each user's), in the native kernel.
   */
  async foldInItem(users: Int32Array, ratings: Float32Array): Promise<Float32Array> {
    const addon = loadNative();
    if (!addon || typeof addon.foldInItem !== 'function') throw new FoldInUnavailableError('NNMF item fold-in needs the native kernel');
    const p = this.params;
    const row = (this.itemStartRow ??= meanRow(p.items, rowWidth(p))).slice();
    await addon.foldInItem(p, users, ratings, row, { lambda: this.foldInLambda(ratings.length), lr: FOLD_IN_LR, steps: FOLD_IN_STEPS });
    return row;
  }

  /** The whole penalty of one row's ratings in training: λ (see regWeights), or λ per rating as 'auto' scales it. */
  private foldInLambda(n: number): number {
    return typeof this.settings.lambda === 'number' ? this.settings.lambda : LAMBDA_PER_RATING * n;
  }

  /** Scored by the engine over a view of the model whose items are the folded-in rows (and whose one user is `user` when it is a row). */
  scoreFolded(user: number | Float32Array, itemRows: Float32Array, out: Float32Array): void {
    const n = out.length;
    if (n === 0) return;
    const p = this.params;
    const users = typeof user === 'number' ? {} : { users: user, nUsers: 1 };
    const view: ModelParams = { ...p, ...users, items: itemRows, nItems: n };
    const u = new Int32Array(n).fill(typeof user === 'number' ? user : 0);
    out.set(
      this.engine.predict(
        view,
        u,
        Int32Array.from({ length: n }, (_, k) => k),
      ),
    );
  }

  /** [V, V'] of each item: the item's whole learned description. */
  itemEmbedding(): { dim: number; data: Float32Array } {
    const p = this.params;
    const dim = p.d + p.dp;
    const R = rowWidth(p);
    const data = new Float32Array(p.nItems * dim);
    for (let k = 0; k < p.nItems; k++) data.set(p.items.subarray(k * R, k * R + dim), k * dim);
    return { dim, data };
  }

  async save(dir: string): Promise<void> {
    const tf = loadTf();
    const model = buildLayersModel(tf, this.params);
    try {
      setModelWeights(tf, model, this.params);
      await writeLayersModel(tf, model, dir);
    } finally {
      model.dispose();
    }
  }
}

/** The architecture's sizes for a model of `settings` over `dims`. */
export function nnmfDims(settings: TrainParams, dims: MemberDims): Dims {
  const [h1, h2, h3] = settings.hidden;
  return { nUsers: dims.nUsers, nItems: dims.nItems, d: settings.d, dp: settings.dp, h1, h2, h3, useBias: settings.useBias };
}

/** NNMF as an ensemble member, trained and served by `engine`. */
export function nnmfKind(engine: Engine): MemberKind<TrainParams> {
  return {
    kind: 'nnmf',
    defaults: DEFAULT_PARAMS,
    resolve: (given) => resolveParams(given),
    async train(ds: Dataset, split: MemberSplit, settings: TrainParams, opts: MemberTrainOptions): Promise<MemberTrainResult> {
      const res = await train(ds, split, {
        engine,
        params: { ...settings, threads: opts.threads },
        scale: opts.scale,
        signal: opts.signal,
        onEpoch: opts.onEpoch,
      });
      const resolved = { ...settings, lambda: res.lambda } as unknown as Record<string, unknown>;
      return {
        member: new NnmfMember(res.params, resolved, engine),
        history: res.history,
        epochs: res.epochs,
        bestEpoch: res.bestEpoch,
        validationRmse: res.validation.rmse,
        seconds: res.seconds,
      };
    },
    async load(dir: string, settings: Record<string, unknown>, dims: MemberDims): Promise<TrainedMember> {
      const tf = loadTf();
      const full = nnmfDims(resolveParams(settings), dims);
      const model = await readLayersModel(tf, dir);
      try {
        return new NnmfMember(paramsFromModel(model, full), settings, engine);
      } finally {
        model.dispose();
      }
    },
  };
}
