import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Readable, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { detectFormat, LineParser, type ImportFormat } from './formats';
import type { RatingsRepository } from './repository';
import type { RatingRow, RatingScale } from './validate';

export interface ImportOptions {
  format: ImportFormat;
  atomic: boolean;
  scale: RatingScale;
  maxBytes?: number;
  batchSize?: number;
  /** Called after every committed batch with the lines read so far. */
  onProgress?: (linesRead: number, bytesRead: number) => void;
}

export interface ImportError {
  line: number;
  reason: string;
}

export interface ImportSummary {
  inserted: number;
  updated: number;
  rejected: number;
  errors: ImportError[];
  format: string;
}

export class ImportTooLargeError extends Error {}

const MAX_REPORTED_ERRORS = 100;

function byteCounter(maxBytes: number, onBytes: (n: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      onBytes(total);
      if (total > maxBytes) cb(new ImportTooLargeError(`import body exceeds ${maxBytes} bytes`));
      else cb(null, chunk);
    },
  });
}

/**
 * Streams ratings into the store in batched transactions so memory stays bounded.
 * With `atomic`, valid rows are spooled to a temporary file first and written in one
 * transaction only when the whole input is valid.
 */
export async function importRatings(
  source: Readable,
  repo: RatingsRepository,
  opts: ImportOptions,
): Promise<ImportSummary> {
  const batchSize = opts.batchSize ?? 10_000;
  let bytes = 0;
  const counted = source.pipe(byteCounter(opts.maxBytes ?? Number.MAX_SAFE_INTEGER, (n) => (bytes = n)));
  source.on('error', (e) => counted.destroy(e));
  const lines = readline.createInterface({ input: counted, crlfDelay: Infinity });

  const summary: ImportSummary = { inserted: 0, updated: 0, rejected: 0, errors: [], format: opts.format };
  let parser: LineParser | null = opts.format === 'auto' ? null : new LineParser(opts.format, opts.scale);
  let lineNo = 0;
  let batch: RatingRow[] = [];
  let spool: { file: string; fd: number } | null = null;
  if (opts.atomic) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-import-'));
    spool = { file: path.join(dir, 'rows.jsonl'), fd: fs.openSync(path.join(dir, 'rows.jsonl'), 'w') };
  }

  const flush = () => {
    if (batch.length === 0) return;
    if (spool) {
      fs.writeSync(spool.fd, batch.map((r) => JSON.stringify(r)).join('\n') + '\n');
    } else {
      const r = repo.upsertMany(batch);
      summary.inserted += r.inserted;
      summary.updated += r.updated;
    }
    batch = [];
    opts.onProgress?.(lineNo, bytes);
  };

  try {
    for await (const line of lines) {
      lineNo++;
      if (!parser) {
        if (line.trim() === '') continue;
        parser = new LineParser(detectFormat(line), opts.scale);
        summary.format = parser.format;
      }
      const res = parser.parse(line);
      if (res === null) continue;
      if ('reason' in res) {
        summary.rejected++;
        if (summary.errors.length < MAX_REPORTED_ERRORS) summary.errors.push({ line: lineNo, reason: res.reason });
        continue;
      }
      batch.push(res.row);
      if (batch.length >= batchSize) flush();
    }
    flush();
    if (spool) {
      fs.closeSync(spool.fd);
      if (summary.rejected === 0) {
        const r = writeSpooled(spool.file, repo);
        summary.inserted = r.inserted;
        summary.updated = r.updated;
      }
    }
  } finally {
    if (spool) {
      try {
        fs.closeSync(spool.fd);
      } catch {
        /* already closed */
      }
      fs.rmSync(path.dirname(spool.file), { recursive: true, force: true });
    }
    lines.close();
  }
  return summary;
}

/** Replays a spool file in a single transaction, reading it in chunks so memory stays bounded. */
function writeSpooled(file: string, repo: RatingsRepository): { inserted: number; updated: number } {
  return repo.db.transaction(() => {
    const total = { inserted: 0, updated: 0 };
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(4 * 1024 * 1024);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    try {
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        const text = rest + decoder.write(buf.subarray(0, n));
        const cut = text.lastIndexOf('\n');
        rest = text.slice(cut + 1);
        const rows = text
          .slice(0, cut)
          .split('\n')
          .filter((l) => l.length > 0)
          .map((l) => JSON.parse(l) as RatingRow);
        const r = repo.writeRows(rows);
        total.inserted += r.inserted;
        total.updated += r.updated;
      }
    } finally {
      fs.closeSync(fd);
    }
    return total;
  })();
}
