import type { ServingNet } from './engine';
import type { MemberDims, MemberKindName, TrainedMember } from './member';
import { concatenated, unitRows } from './vectors';

/** rating ≈ intercept + Σ weights[k] · clip(member k's output). */
export interface Blend {
  intercept: number;
  weights: number[];
}

export const IDENTITY_BLEND: Blend = { intercept: 0, weights: [1] };

type Scale = { min: number; max: number };

/**
 * Least squares on the members' clipped predictions with a ridge penalty pulling the weights
 * toward an equal average (not toward zero, which would favour the intercept): a little
 * regularisation so that a few thousand validation ratings give stable weights.
 */
export function fitBlend(predictions: Float32Array[], truth: Float32Array, scale: Scale, ridge = 0.01): Blend {
  const m = predictions.length;
  const n = truth.length;
  if (m === 0) throw new Error('a blend needs at least one member');
  if (n === 0) return { intercept: 0, weights: predictions.map(() => 1 / m) };
  const dim = m + 1;
  // Normal equations over features [1, clip(p_1), …, clip(p_m)].
  const A = Array.from({ length: dim }, () => new Float64Array(dim));
  const b = new Float64Array(dim);
  const x = new Float64Array(dim);
  x[0] = 1;
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < m; k++) x[k + 1] = clip(predictions[k][j], scale);
    for (let a = 0; a < dim; a++) {
      b[a] += x[a] * truth[j];
      for (let c = 0; c < dim; c++) A[a][c] += x[a] * x[c];
    }
  }
  const alpha = ridge * n;
  for (let k = 1; k < dim; k++) {
    A[k][k] += alpha;
    b[k] += alpha / m;
  }
  const w = solve(A, b);
  if (!w.every(Number.isFinite)) return { intercept: 0, weights: predictions.map(() => 1 / m) };
  return { intercept: w[0], weights: Array.from(w.subarray(1)) };
}

/** Gaussian elimination with partial pivoting; the systems here are a handful of rows. */
function solve(A: Float64Array[], b: Float64Array): Float64Array {
  const n = b.length;
  const M = A.map((row, k) => Float64Array.from([...row, b[k]]));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const out = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * out[k];
    out[r] = s / M[r][r];
  }
  return out;
}

const clip = (v: number, s: Scale) => (v < s.min ? s.min : v > s.max ? s.max : v);

function isIdentity(members: readonly TrainedMember[], blend: Blend): boolean {
  return members.length === 1 && blend.intercept === 0 && blend.weights[0] === 1;
}

/** Members' names in reports and progress: the kind, and for the second and later of a kind (NNMF's networks) `kind-2`, `kind-3`, …. */
export function memberLabels(kinds: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return kinds.map((kind) => {
    const n = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, n);
    return n === 1 ? kind : `${kind}-${n}`;
  });
}

/**
 * Members trained on one dataset (same user and item indexes) and their linear blend. A
 * single member with the identity blend is served as it is, without clipping or copying.
 */
export class Ensemble {
  readonly dims: MemberDims;

  constructor(
    readonly members: readonly TrainedMember[],
    readonly blend: Blend,
    private readonly scale: Scale,
  ) {
    if (members.length === 0 || members.length !== blend.weights.length) throw new Error('one blend weight per member');
    this.dims = members[0].dims;
    for (const m of members) {
      if (m.dims.nUsers !== this.dims.nUsers || m.dims.nItems !== this.dims.nItems) throw new Error('members differ in shape');
    }
  }

  get kinds(): MemberKindName[] {
    return this.members.map((m) => m.kind);
  }

  /** Each member's name in reports (see memberLabels). */
  get labels(): string[] {
    return memberLabels(this.kinds);
  }

  /** The members' user rows side by side: what foldIn returns and the served net's scoreRow takes. */
  get userRowWidth(): number {
    return this.members.reduce((s, m) => s + m.userRowWidth, 0);
  }

  /** Every member's fold-in of the user, laid side by side (see TrainedMember.foldIn). */
  async foldIn(items: Int32Array, ratings: Float32Array, from: number | null): Promise<Float32Array> {
    return concatenated(await Promise.all(this.members.map((m) => m.foldIn(items, ratings, from))), this.userRowWidth);
  }

  eraseUser(u: number): void {
    for (const m of this.members) m.eraseUser(u);
  }

  /** The members' item rows side by side: what foldInItem returns and scoreFolded takes. */
  get itemRowWidth(): number {
    return this.members.reduce((s, m) => s + m.itemRowWidth, 0);
  }

  /** Every member's fold-in of an item, laid side by side (see TrainedMember.foldInItem). */
  async foldInItem(users: Int32Array, ratings: Float32Array): Promise<Float32Array> {
    return concatenated(await Promise.all(this.members.map((m) => m.foldInItem(users, ratings))), this.itemRowWidth);
  }

  /**
   * Blended outputs of one user (a trained index, or a folded-in user row from foldIn) against
   * folded-in items (rows from foldInItem, end to end; out.length of them).
   */
  scoreFolded(user: number | Float32Array, itemRows: Float32Array, out: Float32Array): void {
    if (isIdentity(this.members, this.blend)) return this.members[0].scoreFolded(user, itemRows, out);
    const n = out.length;
    const users = typeof user === 'number' ? null : this.rowParts(user);
    const width = this.itemRowWidth;
    let off = 0;
    out.fill(this.blend.intercept);
    const y = new Float32Array(n);
    this.members.forEach((m, k) => {
      const w = m.itemRowWidth;
      const rows = new Float32Array(n * w);
      for (let j = 0; j < n; j++) rows.set(itemRows.subarray(j * width + off, j * width + off + w), j * w);
      off += w;
      m.scoreFolded(users ? users[k] : user, rows, y);
      for (let j = 0; j < n; j++) out[j] += this.blend.weights[k] * clip(y[j], this.scale);
    });
  }

  /** Member k's part of a side-by-side row. */
  private rowParts(row: Float32Array): Float32Array[] {
    let off = 0;
    return this.members.map((m) => {
      const part = row.subarray(off, off + m.userRowWidth);
      off += m.userRowWidth;
      return part;
    });
  }

  /** Blended raw outputs for index pairs. */
  predict(u: Int32Array, i: Int32Array): Float32Array {
    if (isIdentity(this.members, this.blend)) return this.members[0].predict(u, i);
    const out = new Float32Array(u.length).fill(this.blend.intercept);
    this.members.forEach((m, k) => {
      const y = m.predict(u, i);
      const w = this.blend.weights[k];
      for (let j = 0; j < y.length; j++) out[j] += w * clip(y[j], this.scale);
    });
    return out;
  }

  prepare(): ServingNet {
    const nets = this.members.map((m) => m.prepare());
    if (isIdentity(this.members, this.blend)) return nets[0];
    const { intercept, weights } = this.blend;
    const scale = this.scale;
    const combine = (parts: Float32Array[], n: number, out: Float32Array) => {
      for (let j = 0; j < n; j++) {
        let s = intercept;
        for (let k = 0; k < parts.length; k++) s += weights[k] * clip(parts[k][j], scale);
        out[j] = s;
      }
    };
    let scratch: Float32Array[] = [];
    const rowParts = (row: Float32Array) => this.rowParts(row);
    return {
      // Synchronous: the scratch buffers are never shared across an await.
      score(u, i, n, out) {
        if (scratch.length === 0 || scratch[0].length < n) scratch = nets.map(() => new Float32Array(Math.max(n, 16)));
        nets.forEach((net, k) => net.score(u, i, n, scratch[k]));
        combine(scratch, n, out);
      },
      async scoreUser(u, items, n, out) {
        const parts = nets.map(() => new Float32Array(n));
        await Promise.all(nets.map((net, k) => net.scoreUser(u, items, n, parts[k])));
        combine(parts, n, out);
      },
      async scoreAll(u, out) {
        const parts = nets.map(() => new Float32Array(out.length));
        await Promise.all(nets.map((net, k) => net.scoreAll(u, parts[k])));
        combine(parts, out.length, out);
      },
      scoreRow(row, items, n, out) {
        const rows = rowParts(row);
        const parts = nets.map(() => new Float32Array(n));
        nets.forEach((net, k) => net.scoreRow(rows[k], items, n, parts[k]));
        combine(parts, n, out);
      },
      async scoreRowAll(row, out) {
        const rows = rowParts(row);
        const parts = nets.map(() => new Float32Array(out.length));
        await Promise.all(nets.map((net, k) => net.scoreRowAll(rows[k], parts[k])));
        combine(parts, out.length, out);
      },
    };
  }

  /**
   * Item vectors for similar items: each member's embedding scaled to unit length per item and
   * laid side by side, so every member's view counts equally in the cosine.
   */
  itemEmbedding(): { dim: number; data: Float32Array } {
    const parts = this.members.map((m) => m.itemEmbedding());
    if (parts.length === 1) return parts[0];
    const dim = parts.reduce((s, p) => s + p.dim, 0);
    const n = this.dims.nItems;
    const data = new Float32Array(n * dim);
    let off = 0;
    for (const p of parts) {
      const unit = unitRows(p.data, p.dim);
      for (let i = 0; i < n; i++) data.set(unit.subarray(i * p.dim, (i + 1) * p.dim), i * dim + off);
      off += p.dim;
    }
    return { dim, data };
  }
}
