import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { detectFormat, LineParser, type ImportFormat } from '../ratings/formats';
import type { RatingRow, RatingScale } from '../ratings/validate';
import type { RatingsStore } from './store';
import { spoolName } from './spool';

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

export interface ImportSettings {
  format: ImportFormat;
  atomic: boolean;
  scale: RatingScale;
  /** Folder for atomic imports' spool files (DATA_DIR/tmp). */
  spoolDir: string;
  /** Rows per transaction of a non-atomic import, and per batch of an atomic one's replay. */
  batchRows?: number;
}

/** An import that stopped on an error, with what had been committed before it. */
export class ImportFailedError extends Error {
  constructor(
    readonly cause: unknown,
    readonly summary: ImportSummary,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

const MAX_REPORTED_ERRORS = 100;
const DEFAULT_BATCH = 100_000;

/**
 * One import fed chunk by chunk: bytes are split into lines, parsed and checked here, so the
 * thread that receives the upload only passes bytes on. A non-atomic import commits a
 * transaction every `batchRows` valid rows. An atomic one appends valid rows to a spool file
 * (tab-separated: IDs cannot hold control characters) and writes them in one transaction at the
 * end, only when no row was rejected; the spool file is removed whatever happens.
 */
export class ImportSession {
  readonly summary: ImportSummary;
  private parser: LineParser | null;
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  private lineNo = 0;
  private batch: RatingRow[] = [];
  private readonly batchRows: number;
  private spool: { file: string; fd: number; pending: string[]; pendingChars: number } | null = null;
  private closed = false;

  constructor(
    private readonly store: RatingsStore,
    private readonly settings: ImportSettings,
  ) {
    this.summary = { inserted: 0, updated: 0, rejected: 0, errors: [], format: settings.format };
    this.parser = settings.format === 'auto' ? null : new LineParser(settings.format, settings.scale);
    this.batchRows = settings.batchRows ?? DEFAULT_BATCH;
    if (settings.atomic) {
      fs.mkdirSync(settings.spoolDir, { recursive: true });
      const file = path.join(settings.spoolDir, spoolName(crypto.randomBytes(6).toString('hex')));
      this.spool = { file, fd: fs.openSync(file, 'wx'), pending: [], pendingChars: 0 };
    }
  }

  /** Lines read so far (complete lines only). */
  get lines(): number {
    return this.lineNo;
  }

  /** Parses a chunk of the body; non-atomic imports commit whole batches as they fill. */
  push(chunk: Uint8Array): void {
    this.run(() => {
      const text = this.rest + this.decoder.write(chunk);
      const cut = text.lastIndexOf('\n');
      if (cut < 0) {
        this.rest = text;
        return;
      }
      this.rest = text.slice(cut + 1);
      let start = 0;
      while (start <= cut) {
        const end = text.indexOf('\n', start);
        this.line(text.slice(start, end));
        start = end + 1;
      }
    });
  }

  /**
   * Ends the import. With `truncated` the body was cut short (over the size limit), so a last
   * line without its newline is dropped rather than stored half-read.
   */
  finish(truncated = false): ImportSummary {
    return this.run(() => {
      const last = this.rest + this.decoder.end();
      this.rest = '';
      if (!truncated && last.length > 0) this.line(last);
      this.flush();
      if (this.spool) {
        this.writeSpool();
        fs.closeSync(this.spool.fd);
        this.spool.fd = -1;
        if (this.summary.rejected === 0) {
          const r = this.replaySpool(this.spool.file);
          this.summary.inserted = r.inserted;
          this.summary.updated = r.updated;
        }
      }
      this.close();
      return this.summary;
    });
  }

  /** Stops without committing anything more; removes the spool file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.spool) {
      if (this.spool.fd >= 0) fs.closeSync(this.spool.fd);
      fs.rmSync(this.spool.file, { force: true });
    }
  }

  /** Runs a step; on failure the session is closed and the error carries what was committed. */
  private run<T>(step: () => T): T {
    if (this.closed) throw new Error('import session is closed');
    try {
      return step();
    } catch (err) {
      this.close();
      if (this.spool) {
        this.summary.inserted = 0;
        this.summary.updated = 0;
      }
      throw new ImportFailedError(err, this.summary);
    }
  }

  private line(raw: string): void {
    this.lineNo++;
    if (!this.parser) {
      if (raw.trim() === '') return;
      this.parser = new LineParser(detectFormat(raw), this.settings.scale);
      this.summary.format = this.parser.format;
    }
    const res = this.parser.parse(raw);
    if (res === null) return;
    if ('reason' in res) {
      this.summary.rejected++;
      if (this.summary.errors.length < MAX_REPORTED_ERRORS) this.summary.errors.push({ line: this.lineNo, reason: res.reason });
      return;
    }
    if (this.spool) {
      // An atomic import with a rejected row stores nothing: stop spooling, keep counting.
      if (this.summary.rejected > 0) return;
      const r = res.row;
      const text = `${r.userId}\t${r.itemId}\t${r.rating}\t${r.timestamp ?? ''}\n`;
      this.spool.pending.push(text);
      this.spool.pendingChars += text.length;
      if (this.spool.pendingChars >= 1 << 20) this.writeSpool();
      return;
    }
    this.batch.push(res.row);
    if (this.batch.length >= this.batchRows) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const r = this.store.upsert(this.batch);
    this.batch = [];
    this.summary.inserted += r.inserted;
    this.summary.updated += r.updated;
  }

  private writeSpool(): void {
    const s = this.spool!;
    if (s.pending.length === 0) return;
    fs.writeSync(s.fd, s.pending.join(''));
    s.pending = [];
    s.pendingChars = 0;
  }

  /** Writes the spooled rows in one transaction, reading the file in chunks so memory stays bounded. */
  private replaySpool(file: string): { inserted: number; updated: number } {
    const store = this.store;
    return store.writeTransaction(() => {
      const total = { inserted: 0, updated: 0 };
      const fd = fs.openSync(file, 'r');
      const buf = Buffer.alloc(4 << 20);
      const decoder = new StringDecoder('utf8');
      let rest = '';
      let rows: RatingRow[] = [];
      const write = () => {
        const r = store.writeRows(rows);
        total.inserted += r.inserted;
        total.updated += r.updated;
        rows = [];
      };
      try {
        for (;;) {
          const n = fs.readSync(fd, buf, 0, buf.length, null);
          if (n === 0) break;
          const text = rest + decoder.write(buf.subarray(0, n));
          const cut = text.lastIndexOf('\n');
          rest = text.slice(cut + 1);
          for (const l of text.slice(0, cut).split('\n')) {
            const f = l.split('\t');
            rows.push({ userId: f[0], itemId: f[1], rating: Number(f[2]), timestamp: f[3] === '' ? null : Number(f[3]) });
          }
          if (rows.length >= this.batchRows) write();
        }
        write();
      } finally {
        fs.closeSync(fd);
      }
      return total;
    });
  }
}
