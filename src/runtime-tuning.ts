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

/**
 * Flags `npm start`, the Docker image and the service benchmarks pass to node:
 * --no-memory-reducer (above), and --heap-growing-percent=200: after each full collection V8
 * lets a heap grow to 3 times what survived it before it marks again (by default a factor it
 * picks between 1.1 and 4 from its measured speeds). Measured with bench:scale (MovieLens-1M,
 * 4 writers posting 1,000-row batches; GC traces): with the factor V8 picked (about 2.3 over
 * the request thread's 18 MB live heap) the request thread started a new incremental marking
 * every 300–400 ms ("Start (task)" at 18 MB of a 42 MB limit), each freeing 2–3 MB and costing
 * it 5–25 ms of marking steps and finalisation: 60–80 collections and 270–390 ms per 5 runs,
 * and the probes' p99 over 10 ms. With the factor fixed at 3 the loop does not start (15–17
 * collections, 20–35 ms per 5 runs). A heap may hold up to 3 times its live size between
 * collections; at 20M ratings the server's peak and idle memory did not grow (BENCHMARKS.md).
 * And --single-threaded-gc: V8's helper threads for collections run at normal priority and
 * serve every thread's heap, the writer thread's too, which collects often during an import;
 * on two cores they took the core the request thread was waiting for. Without them the probes'
 * p99 during an atomic MovieLens-1M import stayed within 10 ms in 8 of 8 rounds of 5 runs
 * (4.98–9.2 ms) against 8 of 12 with them, at about the same import rate and training speed.
 */
export const SERVER_NODE_FLAGS = ['--no-memory-reducer', '--heap-growing-percent=200', '--single-threaded-gc'];

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
