import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';

/** Nice value of every thread of this process (field 19 of /proc/self/task/TID/stat); threads may end mid-read. */
export function threadNices(): { tid: number; nice: number }[] {
  return fs.readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      return [{ tid: Number(tid), nice: Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]) }];
    } catch {
      return [];
    }
  });
}

/**
 * Starts a training that cancels itself after 1.5 s (through the signal and epoch callback it is
 * given) and watches this process's threads meanwhile: the training's new threads run at nice 10,
 * while the JavaScript thread keeps its priority. Resolves with what the training rejected with.
 */
export async function niceOfTrainingThreads(
  start: (signal: AbortSignal, onEpoch: () => void) => Promise<unknown>,
): Promise<{ seen: number[]; own: number; error: unknown }> {
  const before = new Set(
    threadNices()
      .filter((t) => t.nice !== 0)
      .map((t) => t.tid),
  );
  const seen: number[] = [];
  const poll = setInterval(() => seen.push(...threadNices().flatMap((t) => (before.has(t.tid) ? [] : [t.nice]))), 0);
  const ctl = new AbortController();
  const started = Date.now();
  const error = await start(ctl.signal, () => Date.now() - started > 1500 && ctl.abort()).then(
    () => undefined,
    (e: unknown) => e,
  );
  clearInterval(poll);
  return { seen, own: threadNices().find((t) => t.tid === process.pid)!.nice, error };
}

/** /health asked again as soon as it answers, until `done` settles; the slowest answer and the count. */
export async function healthWhile(app: FastifyInstance, done: Promise<unknown>): Promise<{ maxMs: number; count: number }> {
  let finished = false;
  void done.finally(() => (finished = true));
  let maxMs = 0;
  let count = 0;
  while (!finished) {
    const t = performance.now();
    const res = await app.inject({ url: '/health' });
    const took = performance.now() - t;
    maxMs = Math.max(maxMs, took);
    count++;
    expect(res.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { maxMs, count };
}

/** CPU seconds (user + system) of the calling thread, or of the whole process, from /proc; null elsewhere. */
export function cpuSeconds(of: 'thread-self' | 'self'): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${of}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}
