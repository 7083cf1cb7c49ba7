import fs from 'node:fs';
import { loadConfig } from '../config';
import { openDatabase } from '../db/open';
import { IMPORT_FORMATS, type ImportFormat } from '../ratings/formats';
import { importRatings } from '../ratings/importer';
import { RatingsRepository } from '../ratings/repository';
import { parseArgs } from './args';

const USAGE = `usage: npm run import -- --file PATH --format ${IMPORT_FORMATS.join('|')} [--data-dir DIR] [--atomic]`;

function progressBar(done: number, total: number, started: number): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const width = 30;
  const filled = Math.round(frac * width);
  const secs = (Date.now() - started) / 1000;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(1)}% ${secs.toFixed(1)}s`;
}

async function main(): Promise<number> {
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
  const repo = new RatingsRepository(db);
  const tty = process.stderr.isTTY;
  const started = Date.now();
  try {
    const summary = await importRatings(fs.createReadStream(file, { highWaterMark: 1 << 20 }), repo, {
      format,
      atomic: args.atomic === true,
      scale: { min: config.ratingMin, max: config.ratingMax },
      batchSize: 20_000,
      onProgress: tty ? (_lines, bytes) => process.stderr.write(`\r${progressBar(bytes, size, started)}`) : undefined,
    });
    if (tty) process.stderr.write(`\r${progressBar(size, size, started)}\n`);
    for (const e of summary.errors.slice(0, 10)) process.stderr.write(`line ${e.line}: ${e.reason}\n`);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `imported ${file} (${summary.format}) into ${config.dataDir}: inserted ${summary.inserted}, updated ${summary.updated}, rejected ${summary.rejected} in ${secs}s\n`,
    );
    return args.atomic === true && summary.rejected > 0 ? 1 : 0;
  } finally {
    db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`import failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
