import fs from 'node:fs';
import { loadConfig } from '../config';
import { openDatabase } from '../db/open';
import { IMPORT_FORMATS, type ImportFormat } from '../ratings/formats';
import { ImportFailedError, ImportSession } from '../writer/import-session';
import { removeOwnSpools, spoolDir } from '../writer/spool';
import { RatingsStore } from '../writer/store';
import { tuneForWrites } from '../writer/tuning';
import { parseArgs } from './args';

const USAGE = `usage: npm run import -- --file PATH --format ${IMPORT_FORMATS.join('|')} [--data-dir DIR] [--atomic]`;

function progressBar(done: number, total: number, started: number): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const width = 30;
  const filled = Math.round(frac * width);
  const secs = (Date.now() - started) / 1000;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(1)}% ${secs.toFixed(1)}s`;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  const file = args.file;
  const format = (args.format ?? 'auto') as ImportFormat;
  if (typeof file !== 'string' || !IMPORT_FORMATS.includes(format)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig(typeof args['data-dir'] === 'string' ? { ...process.env, DATA_DIR: args['data-dir'] } : process.env);
  const size = fs.statSync(file).size;
  const db = openDatabase(config.dataDir);
  tuneForWrites(db);
  const spools = spoolDir(config.dataDir);
  // Signals end the process through exit handlers only when they are handled.
  const onExit = () => removeOwnSpools(spools);
  process.on('exit', onExit);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  const tty = process.stderr.isTTY;
  const started = Date.now();
  const session = new ImportSession(new RatingsStore(db), {
    format,
    atomic: args.atomic === true,
    scale: { min: config.ratingMin, max: config.ratingMax },
    spoolDir: spools,
  });
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let read = 0;
    let lastDraw = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      session.push(buf.subarray(0, n));
      read += n;
      if (tty && Date.now() - lastDraw > 200) {
        lastDraw = Date.now();
        process.stderr.write(`\r${progressBar(read, size, started)}`);
      }
    }
    const summary = session.finish();
    if (tty) process.stderr.write(`\r${progressBar(size, size, started)}\n`);
    for (const e of summary.errors.slice(0, 10)) process.stderr.write(`line ${e.line}: ${e.reason}\n`);
    const secs = (Date.now() - started) / 1000;
    const rows = summary.inserted + summary.updated;
    process.stdout.write(
      `imported ${file} (${summary.format}) into ${config.dataDir}: inserted ${summary.inserted}, updated ${summary.updated}, ` +
        `rejected ${summary.rejected} in ${secs.toFixed(1)}s (${Math.round(rows / Math.max(secs, 1e-3))} rows/s)\n`,
    );
    return args.atomic === true && summary.rejected > 0 ? 1 : 0;
  } finally {
    session.close();
    fs.closeSync(fd);
    db.close();
  }
}

try {
  process.exitCode = main();
} catch (err) {
  process.stderr.write(`import failed: ${err instanceof Error ? err.message : String(err)}\n`);
  if (err instanceof ImportFailedError) {
    const { inserted, updated, rejected } = err.summary;
    process.stderr.write(`stored before the failure: inserted ${inserted}, updated ${updated}, rejected ${rejected}\n`);
  }
  process.exitCode = 1;
}
