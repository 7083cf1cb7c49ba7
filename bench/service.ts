import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { SERVER_NODE_FLAGS } from '../src/runtime-tuning';

/**
 * The service in its own process, as `npm start` runs it (the built server, its node flags), on
 * 127.0.0.1:`port` with `dataDir` as its data folder; resolves once /health answers. `env` adds
 * or overrides variables; `nodeFlags` adds node flags (a CPU profile...). The server's stderr is
 * the benchmark's; its stdout (the request log) is dropped.
 */
export function startService(dataDir: string, port: number, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<ChildProcess> {
  const child = fork(path.join(__dirname, '..', 'src', 'server.js'), [], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    execArgv: [...SERVER_NODE_FLAGS, ...nodeFlags],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    const poll = setInterval(() => {
      fetch(`http://127.0.0.1:${port}/health`).then(
        () => {
          clearInterval(poll);
          child.removeAllListeners('exit');
          resolve(child);
        },
        () => undefined,
      );
    }, 100);
  });
}

/** SIGTERM, then waits for the process to exit (the service closes its stores on the way). */
export function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
