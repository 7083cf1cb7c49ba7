import type { ServingNet } from '../engine';
import { readLayersModel, writeLayersModel } from '../layers-io';
import { FoldInUnavailableError, MemberBase, oneUserRowScoring, zeroRow, type MemberDims, type TrainedMember } from '../member';
import { solveRidge } from '../ridge';
import { loadTf } from '../tf';
import { buildAutorecLayers, servedFromLayers } from './layers';
import { loadAutorecNative, type AutorecAddon, type AutorecServed } from './native';
import { resolveAutorec, type AutorecSettings } from './settings';

/** A one-user view of the model whose user is the row [V_u (hidden) | c_u] (a folded-in user); it shares the item codes. */
function rowView(s: AutorecServed, row: Float32Array): AutorecServed {
  return { nUsers: 1, nItems: s.nItems, hidden: s.hidden, V: row.subarray(0, s.hidden), c: row.subarray(s.hidden, s.hidden + 1), codes: s.codes };
}

/** User u's score for item i, in plain JavaScript. */
function jsScore(s: AutorecServed, u: number, i: number): number {
  const H = s.hidden;
  let t = s.c[u];
  for (let k = 0, a = u * H, b = i * H; k < H; k++) t += s.V[a + k] * s.codes[b + k];
  return t;
}

/**
 * Scoring of folded-in users, in the kernel when there is one: it reads the view's arrays in
 * place, so a whole catalogue takes a fraction of a millisecond of the calling thread, where the
 * JavaScript loop takes several.
 */
function rowScoring(s: AutorecServed, addon: AutorecAddon | null): Pick<ServingNet, 'scoreRow' | 'scoreRowAll'> {
  return oneUserRowScoring(s.nItems, (row, users, items, out) => {
    const view = rowView(s, row);
    if (addon) out.set(addon.autorecPredict(view, users, items));
    else for (let k = 0; k < items.length; k++) out[k] = jsScore(view, 0, items[k]);
  });
}

/** Scoring in plain JavaScript, for a checkpoint served where the addon was not built. */
export function jsServing(s: AutorecServed): ServingNet {
  return {
    ...rowScoring(s, null),
    score(u, i, n, out) {
      for (let k = 0; k < n; k++) out[k] = jsScore(s, u[k], i[k]);
    },
    async scoreUser(u, items, n, out) {
      for (let k = 0; k < n; k++) out[k] = jsScore(s, u, items[k]);
    },
    async scoreAll(u, out) {
      for (let i = 0; i < s.nItems; i++) out[i] = jsScore(s, u, i);
    },
  };
}

/**
 * A trained I-AutoRec member. It holds what scoring needs: the decoder and each item's code
 * h_i, computed once from the item's training ratings (so it serves without the dataset, and a
 * held-out rating never feeds its own prediction).
 */
export class AutorecMember extends MemberBase implements TrainedMember {
  readonly kind = 'autorec' as const;

  constructor(
    readonly served: AutorecServed,
    settings: Record<string, unknown>,
  ) {
    super(served, settings);
  }

  predict(u: Int32Array, i: Int32Array): Float32Array {
    const addon = loadAutorecNative();
    if (addon) return addon.autorecPredict(this.served, u, i);
    return Float32Array.from(u, (uk, k) => jsScore(this.served, uk, i[k]));
  }

  prepare(): ServingNet {
    const addon = loadAutorecNative();
    if (!addon) return jsServing(this.served);
    const net = new addon.AutorecServing(this.served);
    return {
      score: (u, i, n, out) => net.score(u, i, n, out),
      scoreUser: (u, items, n, out) => net.scoreUser(u, items, n, out),
      scoreAll: (u, out) => net.scoreAll(u, out),
      scoreRow: rowScoring(this.served, addon).scoreRow,
      scoreRowAll: (row, out) => net.scoreRowAll(row, out),
    };
  }

  get userRowWidth(): number {
    return this.served.hidden + 1;
  }

  /**
   * The decoder's row for the user, [V_u, c_u], as the ridge solution of r ≈ V_u·h_i + c_u over
   * the codes of the items they rated, with the training weight decay on V_u ((λ/2)‖V_u‖²; c is
   * not decayed in training, a token penalty keeps the system solvable). The encoder is frozen,
   * so the user's ratings do not enter the item codes.
   */
  async foldIn(items: Int32Array, ratings: Float32Array, _from: number | null): Promise<Float32Array> {
    const { hidden: H, codes } = this.served;
    const W = H + 1;
    const n = items.length;
    const X = new Float32Array(n * W);
    for (let j = 0; j < n; j++) {
      X.set(codes.subarray(items[j] * H, (items[j] + 1) * H), j * W);
      X[j * W + H] = 1;
    }
    const lambda = new Float32Array(W).fill(Math.max(1e-6, 0.5 * Number(this.settings.lambda)));
    lambda[H] = 1e-3;
    return solveRidge(X, Float32Array.from(ratings), lambda);
  }

  eraseUser(u: number): void {
    zeroRow(this.served.V, u, this.served.hidden);
    this.served.c[u] = 0;
    if (this.served.encW) zeroRow(this.served.encW, u, this.served.hidden);
  }

  get itemRowWidth(): number {
    return this.served.hidden;
  }

  /**
   * I-AutoRec's input is an item's vector of ratings over users, so a new item needs no fitting:
   * its code is the encoder's output for its ratings, h = sigmoid(Σ_u r_u·W_u + b), as training
   * computes every item's code, and the decoder scores it for every user.
   */
  async foldInItem(users: Int32Array, ratings: Float32Array): Promise<Float32Array> {
    const { hidden: H, nUsers, encW, encB } = this.served;
    if (!encW || !encB) throw new FoldInUnavailableError('this I-AutoRec checkpoint was saved without its encoder');
    const z = Float64Array.from(encB);
    for (let j = 0; j < users.length; j++) {
      const u = users[j];
      if (!(u >= 0 && u < nUsers)) throw new RangeError('user index out of range');
      const r = ratings[j];
      for (let k = 0, at = u * H; k < H; k++) z[k] += r * encW[at + k];
    }
    return Float32Array.from(z, (v) => 1 / (1 + Math.exp(-v)));
  }

  /** V_u·h + c_u, with [V_u | c_u] a trained user's or a folded-in row. */
  scoreFolded(user: number | Float32Array, itemRows: Float32Array, out: Float32Array): void {
    const { hidden: H, V, c } = this.served;
    const row = typeof user === 'number' ? null : user;
    const base = typeof user === 'number' ? user * H : 0;
    const vu = row ?? V;
    const cu = row ? row[H] : c[user as number];
    for (let j = 0; j < out.length; j++) {
      let t = cu;
      for (let k = 0; k < H; k++) t += vu[base + k] * itemRows[j * H + k];
      out[j] = t;
    }
  }

  itemEmbedding(): { dim: number; data: Float32Array } {
    return { dim: this.served.hidden, data: this.served.codes };
  }

  async save(dir: string): Promise<void> {
    const tf = loadTf();
    const model = buildAutorecLayers(tf, this.served);
    try {
      await writeLayersModel(tf, model, dir);
    } finally {
      model.dispose();
    }
  }
}

/** Reads what AutorecMember.save wrote. */
export async function loadAutorecMember(dir: string, settings: Record<string, unknown>, dims: MemberDims): Promise<AutorecMember> {
  const resolved: AutorecSettings = resolveAutorec(settings);
  const tf = loadTf();
  const model = await readLayersModel(tf, dir);
  try {
    return new AutorecMember(servedFromLayers(model, dims, resolved.hidden), { ...resolved });
  } finally {
    model.dispose();
  }
}
