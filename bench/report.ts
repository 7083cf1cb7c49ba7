import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/root';

/** Prints rows as an aligned table. */
export function printTable(rows: Record<string, string | number | undefined>[]): void {
  if (!rows.length) return;
  // Every column any row has; a row without a value shows an empty cell.
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : (v ?? ''));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, k) => v.padEnd(width[k])).join('  ');
  process.stdout.write(`${line(cols)}\n${line(width.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => cell(r[c])))}\n`);
}

/** The q-quantile of xs (the sample at rank ⌊q·n⌋ of the sorted values), NaN when there are none. */
export function percentile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
}

/** Writes a benchmark's results under bench-results/ and says where. */
export function writeResult(name: string, data: unknown): string {
  const dir = path.join(projectRoot(), 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(data, null, 2));
  process.stdout.write(`results written to ${file}\n`);
  return file;
}

/** The machine a result was measured on, for its JSON. */
export function machine(): { cpus: number; model?: string; node: string } {
  return { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version };
}

/** Runs a benchmark's main function; a failure prints its stack and exits with 1. */
export function runBench(main: () => Promise<void>): void {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
