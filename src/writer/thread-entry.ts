import path from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { projectRoot } from '../root';

/**
 * Starts a worker thread on a module that sits next to the caller. From dist/ that is the
 * compiled .js file. When the caller itself runs as TypeScript source (jest with ts-jest runs
 * src/ directly, and a worker thread does not inherit jest's transform), the thread first
 * installs a loader that compiles each .ts file it requires with the project's own TypeScript
 * (transpile only: the type check is `npm test`'s tsc step), caching the output by content
 * hash under node_modules/.cache, so tests never run a stale dist/ build.
 */
export function startThread(callerFile: string, moduleName: string, options: WorkerOptions): Worker {
  const ext = path.extname(callerFile);
  const entry = path.join(path.dirname(callerFile), moduleName + ext);
  if (ext !== '.ts') return new Worker(entry, options);
  const root = projectRoot();
  const settings = {
    entry,
    typescript: require.resolve('typescript', { paths: [root] }),
    cacheDir: path.join(root, 'node_modules', '.cache', 'worker-ts'),
  };
  return new Worker(`(${tsLoader.toString()})(${JSON.stringify(settings)})`, { ...options, eval: true });
}

/** Runs inside the new thread, as plain JavaScript (its source is sent as a string). */
function tsLoader(settings: { entry: string; typescript: string; cacheDir: string }): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const fs = require('node:fs') as typeof import('node:fs');
  const nodePath = require('node:path') as typeof import('node:path');
  const crypto = require('node:crypto') as typeof import('node:crypto');
  const Module = require('node:module') as { _extensions: Record<string, (m: unknown, f: string) => void> };
  let ts: typeof import('typescript') | null = null;
  Module._extensions['.ts'] = (mod, filename) => {
    const source = fs.readFileSync(filename, 'utf8');
    const key = crypto.createHash('sha1').update('es2022-cjs\0').update(source).digest('hex');
    const cached = nodePath.join(settings.cacheDir, `${key}.js`);
    let js: string;
    try {
      js = fs.readFileSync(cached, 'utf8');
    } catch {
      ts ??= require(settings.typescript) as typeof import('typescript');
      js = ts.transpileModule(source, {
        fileName: filename,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      }).outputText;
      fs.mkdirSync(settings.cacheDir, { recursive: true });
      const tmp = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      fs.writeFileSync(tmp, js);
      fs.renameSync(tmp, cached);
    }
    (mod as { _compile(code: string, file: string): void })._compile(js, filename);
  };
  require(settings.entry);
}
