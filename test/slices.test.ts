import { inSlices, predictInSlices } from '../src/engine/slices';

describe('scoring in slices', () => {
  test('gives what one call gives, in order, for lists that are and are not whole slices', async () => {
    const predict = (u: Int32Array, i: Int32Array) => Float32Array.from(u, (x, k) => x * 10 + i[k]);
    for (const n of [0, 1, 2047, 2048, 2049, 10_000]) {
      const u = Int32Array.from({ length: n }, (_, k) => k % 97);
      const i = Int32Array.from({ length: n }, (_, k) => k % 7);
      expect(Array.from(await predictInSlices(predict, u, i))).toEqual(Array.from(predict(u, i)));
    }
    const objects = await inSlices(5000, (a, b) => Array.from({ length: b - a }, (_, k) => ({ at: a + k })));
    expect((objects as { at: number }[]).map((o) => o.at)).toEqual(Array.from({ length: 5000 }, (_, k) => k));
  });

  test('lets other work run between slices', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const slow = (from: number, to: number) => {
      const end = Date.now() + 2;
      while (Date.now() < end) {
        /* a slice that takes a couple of milliseconds */
      }
      return new Float32Array(to - from);
    };
    await inSlices(20 * 2048, slow);
    clearInterval(timer);
    // Twenty slices: a timer scheduled meanwhile ran between them, not only after the last.
    expect(ticks).toBeGreaterThan(3);
  });
});

describe('shuffling in slices', () => {
  test('gives exactly the permutation of a plain shuffle for the same seed', async () => {
    const { Rng, range } = await import('../src/engine/rng');
    for (const n of [0, 1, 2, 1000, 200_001]) {
      const plain = new Rng(5).shuffle(range(n));
      const sliced = await new Rng(5).shuffleInSlices(range(n), 4096);
      expect(Buffer.from(sliced.buffer).equals(Buffer.from(plain.buffer))).toBe(true);
    }
  });
});
