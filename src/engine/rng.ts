/** Small seeded generators so that splits, initialisation and shuffles repeat exactly for a seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) ^ 0x9e3779b9;
    for (let k = 0; k < 4; k++) this.next();
  }

  /** mulberry32: uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Normal with the given std, redrawn until within two standard deviations (as tf.truncatedNormal). */
  truncatedNormal(std: number): number {
    for (;;) {
      const z = this.normal();
      if (Math.abs(z) <= 2) return z * std;
    }
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * The same permutation as shuffle(), yielding to the event loop every `slice` swaps: an
   * epoch's order over a million ratings takes ~10 ms to shuffle, which the thread that answers
   * requests should not spend in one piece.
   */
  async shuffleInSlices(a: Int32Array, slice = 65_536): Promise<Int32Array> {
    for (let k = a.length - 1; k > 0;) {
      const stop = Math.max(0, k - slice);
      for (; k > stop; k--) {
        const j = Math.floor(this.next() * (k + 1));
        const t = a[k];
        a[k] = a[j];
        a[j] = t;
      }
      if (k > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return a;
  }

  shuffle(a: Int32Array): Int32Array {
    for (let k = a.length - 1; k > 0; k--) {
      const j = Math.floor(this.next() * (k + 1));
      const t = a[k];
      a[k] = a[j];
      a[j] = t;
    }
    return a;
  }
}

export function range(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let k = 0; k < n; k++) a[k] = k;
  return a;
}
