/**
 * The load of a probed phase of bench:scale (an import upload, or writers posting batches), run
 * in a process of its own: the probing process then only sends probes and reads their answers,
 * so a probe's latency is the service's and not the time the probing client spent streaming a
 * file or serialising batches on the same event loop. It is another client on the same
 * machine, competing for the same cores, as the "4 clients" are.
 *
 * Protocol (IPC): the parent forks this file with the task as JSON in argv[2]; the child
 * prepares (reads the file, builds the batches) and sends {ready}; the parent sends 'go' and
 * the child answers {ok, value} or {ok: false, error} when the load has been sent and answered.
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import { agent, send, usePort } from './service-probe';

export type LoadTask =
  | { kind: 'import'; port: number; file: string; format: string; atomic: boolean }
  /** `writers` clients post the file's ratings as 1,000-row batches, user IDs prefixed with `prefix`. */
  | { kind: 'writers'; port: number; file: string; writers: number; prefix: string };

type FromChild = { ready: true } | { ok: true; value: unknown } | { ok: false; error: string };

/** The ML-1M (`::`-separated) file as 1,000-row JSON batches for POST /ratings, user IDs prefixed. */
function writerBatches(file: string, prefix: string): string[] {
  const lines = fs
    .readFileSync(file, 'latin1')
    .split('\n')
    .filter((l) => l.trim());
  const batches: string[] = [];
  for (let k = 0; k < lines.length; k += 1000) {
    batches.push(
      JSON.stringify(
        lines.slice(k, k + 1000).map((l) => {
          const f = l.split('::');
          return { userId: `${prefix}${f[0]}`, itemId: f[1], rating: Number(f[2]) };
        }),
      ),
    );
  }
  return batches;
}

async function importFile(task: Extract<LoadTask, { kind: 'import' }>): Promise<unknown> {
  const res = await send(
    'POST',
    `/ratings/import?format=${task.format}&atomic=${task.atomic}`,
    fs.createReadStream(task.file, { highWaterMark: 1 << 20 }),
    'text/plain',
  );
  if (res.status !== 200) throw new Error(`import answered ${res.status}: ${res.body}`);
  return JSON.parse(res.body);
}

async function runWriters(writers: number, batches: string[]): Promise<{ requests: number }> {
  let next = 0;
  const writer = async () => {
    while (next < batches.length) {
      const res = await send('POST', '/ratings', batches[next++]);
      if (res.status !== 200) throw new Error(`POST /ratings answered ${res.status}: ${res.body}`);
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  return { requests: batches.length };
}

/** Starts the load's process and waits until it is prepared; `run` sends it and resolves with its result. */
export async function prepareLoad(task: LoadTask): Promise<{ run: () => Promise<any> }> {
  const child = fork(__filename, [JSON.stringify(task)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () =>
    new Promise<FromChild>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`load process exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (m: FromChild) => {
        child.off('exit', onExit);
        resolve(m);
      });
    });
  await next();
  return {
    run: async () => {
      const answer = next();
      child.send('go');
      const m = await answer;
      child.disconnect();
      if (!('ok' in m)) throw new Error('load process answered out of turn');
      if (!m.ok) throw new Error(m.error);
      return m.value;
    },
  };
}

async function child(task: LoadTask): Promise<void> {
  usePort(task.port);
  const batches = task.kind === 'writers' ? writerBatches(task.file, task.prefix) : [];
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    process.send!({ ready: true } satisfies FromChild);
  });
  let reply: FromChild;
  try {
    const value = task.kind === 'import' ? await importFile(task) : await runWriters(task.writers, batches);
    reply = { ok: true, value };
  } catch (err) {
    reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  agent.destroy();
  process.send!(reply);
}

if (require.main === module) void child(JSON.parse(process.argv[2]) as LoadTask);
