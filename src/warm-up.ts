/**
 * Gets process.nextTick compiled by V8 before the service loads anything else.
 *
 * Node's streams call nextTick about six times per HTTP request, and each call builds a small
 * object literal with two symbol keys. Started cold, this process compiles nextTick at a random
 * moment of its start-up (module loading, SQLite, TF.js, the model) and in about half of the
 * starts the compiled code takes V8's generic runtime path for that literal: measured at
 * 3.9–5.3 µs per request instead of 0.3–0.6 µs, which alone moved /predict throughput by 10–20%
 * between otherwise identical runs. Calling it hot first, on a quiet process and with the
 * argument counts Node's internals use, got the fast path in every start measured.
 * BENCHMARKS.md has the measurements.
 */
export async function warmNextTick(calls = 200_000): Promise<void> {
  const noop = (): void => {};
  const arg = {};
  for (let done = 0; done < calls; done += 1000) {
    for (let k = 0; k < 1000; k += 4) {
      process.nextTick(noop);
      process.nextTick(noop, arg);
      process.nextTick(noop, arg, arg);
      process.nextTick(noop, arg, arg, arg);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}
