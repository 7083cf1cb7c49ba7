// Builds the dashboard into dist/dashboard: the browser code bundled with uPlot by esbuild (one
// script, one stylesheet, names carrying a content hash so they can be cached for good) and
// index.html pointing at them. Run by `npm run build`; nothing is fetched at run time.
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/** Writes the built dashboard into `outDir` (default dist/dashboard) and returns the files written. */
export async function buildDashboard(outDir = path.join(root, 'dist', 'dashboard')) {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(here, 'main.ts') },
    bundle: true,
    format: 'esm',
    target: ['es2022'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    entryNames: '[name]-[hash]',
    outdir: outDir,
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
  const script = outputs.find((f) => f.endsWith('.js'));
  const style = outputs.find((f) => f.endsWith('.css'));
  if (!script || !style) throw new Error(`dashboard build: expected a script and a stylesheet, got ${outputs.join(', ')}`);
  const html = fs.readFileSync(path.join(here, 'index.html'), 'utf8').replace('%SCRIPT%', script).replace('%STYLE%', style);
  fs.writeFileSync(path.join(outDir, 'index.html'), html);
  return [...outputs, 'index.html'];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = await buildDashboard(process.argv[2]);
  process.stdout.write(`dashboard: ${files.join(', ')}\n`);
}
