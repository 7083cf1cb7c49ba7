/**
 * Keeps V8 on its fast path for process.nextTick, which Node's streams call about six times
 * per HTTP request; each call builds a small object literal with two symbol keys.
 *
 * Measured on this service (CPU profiles, 60,000–100,000 /predict requests per run): when V8
 * compiles nextTick at a random moment of start-up (module loading, SQLite, TF.js, the model)
 * or recompiles it after an idle period, in about half of the cases the compiled code builds
 * that literal through V8's generic runtime path: 3–5 µs per request instead of 0.3–0.6 µs,
 * which alone moved /predict throughput by 10–20% between otherwise identical runs. Two things
 * together gave the fast path in every run measured (none of them alone did):
 *  - calling nextTick hot before anything else loads (warmNextTick), and
 *  - starting node with --no-memory-reducer: the memory reducer's full collections on an idle
 *    heap drop the maps that compiled code and its feedback rely on (after 15–20 s idle, 5 of 5
 *    runs were slow without the flag, 0 of 6 with it). The heap is then not shrunk when idle.
 * BENCHMARKS.md has the figures.
 */

/** Flags `npm start`, the Docker image and the serving benchmark pass to node. */
export const SERVER_NODE_FLAGS = ['--no-memory-reducer'];

/** The flags in SERVER_NODE_FLAGS this process was started without. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return SERVER_NODE_FLAGS.filter((f) => !execArgv.includes(f));
}

export async function warmNextTick(calls = 200_000): Promise<void> {
  const noop = (): void => {};
  const arg = {};
  for (let done = 0; done < calls; done += 1000) {
    // The argument counts Node's internals use.
    for (let k = 0; k < 1000; k += 4) {
      process.nextTick(noop);
      process.nextTick(noop, arg);
      process.nextTick(noop, arg, arg);
      process.nextTick(noop, arg, arg, arg);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}
