import type { ServingNet } from '../engine';
import type { MfParams } from './model';

function check(a: ArrayLike<number>, n: number, limit: number, what: string): void {
  for (let k = 0; k < n; k++) if (!(a[k] >= 0 && a[k] < limit)) throw new TypeError(`${what} index out of range`);
}

/**
 * Biased MF scoring in plain TypeScript, for installations without the compiled kernel: a
 * checkpoint still loads and serves (training needs the kernel). The same terms as mf.cc, up
 * to the rounding of the dot product. Indexes are checked as the native binding checks them.
 */
export function portableScore(p: MfParams, u: Int32Array, i: Int32Array, n: number, out: Float32Array): Float32Array {
  check(u, n, p.nUsers, 'user');
  check(i, n, p.nItems, 'item');
  const W = p.k + 1;
  for (let k = 0; k < n; k++) {
    const a = u[k] * W;
    const b = i[k] * W;
    let dot = 0;
    for (let j = 0; j < p.k; j++) dot += p.users[a + j] * p.items[b + j];
    out[k] = p.mean + p.users[a + p.k] + p.items[b + p.k] + dot;
  }
  return out;
}

/** Scoring over a private copy of the rows, so later changes to the arrays do not reach it. */
export function portableServing(p: MfParams): Omit<ServingNet, 'scoreRow' | 'scoreRowAll'> {
  const q = { ...p, users: p.users.slice(), items: p.items.slice() };
  const all = Int32Array.from({ length: q.nItems }, (_, k) => k);
  return {
    score(u, i, n, out) {
      portableScore(q, u, i, n, out);
    },
    async scoreUser(u, items, n, out) {
      portableScore(q, new Int32Array(n).fill(u), items, n, out);
    },
    async scoreAll(u, out) {
      portableScore(q, new Int32Array(q.nItems).fill(u), all, q.nItems, out);
    },
  };
}
