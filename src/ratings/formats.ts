import { checkRatingFields, type RatingRow, type RatingScale } from './validate';

export const IMPORT_FORMATS = ['csv', 'tsv', 'movielens-100k', 'movielens-1m', 'auto'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
export type ConcreteFormat = Exclude<ImportFormat, 'auto'>;

export type LineResult = { row: RatingRow } | { reason: string } | null;

const HEADER_FIELDS = ['userId', 'itemId', 'rating', 'timestamp'];

/** Splits one CSV record; quoted fields may contain commas and doubled quotes. Multi-line fields are not supported. */
export function splitCsv(line: string): string[] | null {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            v += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else v += line[i++];
      }
      if (i < line.length && line[i] !== ',') return null;
      out.push(v);
      i++;
    } else {
      const end = line.indexOf(',', i);
      const stop = end === -1 ? line.length : end;
      out.push(line.slice(i, stop));
      i = stop + 1;
    }
  }
  return out;
}

export function detectFormat(firstLine: string): ConcreteFormat {
  if (firstLine.includes('::')) return 'movielens-1m';
  if (firstLine.includes('\t')) return /^\s*userId\t/i.test(firstLine) ? 'tsv' : 'movielens-100k';
  return 'csv';
}

function numeric(field: string): number {
  const t = field.trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : Number.NaN;
}

/**
 * Turns raw lines into rating rows for one format. Stateful only in that a CSV or TSV file
 * must start with its header line, which fixes the column order.
 */
export class LineParser {
  private columns: number[] | null = null;
  private sawFirst = false;

  constructor(
    readonly format: ConcreteFormat,
    private readonly scale: RatingScale,
  ) {
    if (format === 'movielens-100k' || format === 'movielens-1m') this.columns = [0, 1, 2, 3];
  }

  parse(rawLine: string): LineResult {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') return null;
    const first = !this.sawFirst;
    this.sawFirst = true;
    let fields: string[] | null;
    switch (this.format) {
      case 'csv':
        fields = splitCsv(line);
        break;
      case 'tsv':
      case 'movielens-100k':
        fields = line.split('\t');
        break;
      case 'movielens-1m':
        fields = line.split('::');
        break;
    }
    if (!fields) return { reason: 'unbalanced quotes' };
    if (first && this.columns === null) {
      const names = fields.map((f) => f.trim());
      const cols = HEADER_FIELDS.map((h) => names.findIndex((n) => n.toLowerCase() === h.toLowerCase()));
      if (cols[0] < 0 || cols[1] < 0 || cols[2] < 0 || names.length > 4 || (names.length === 4 && cols[3] < 0)) {
        this.columns = [-1, -1, -1, -1];
        return { reason: `header must be ${HEADER_FIELDS.slice(0, 3).join(',')}[,timestamp]` };
      }
      this.columns = cols;
      return null;
    }
    const cols = this.columns as number[];
    if (cols[0] < 0) return { reason: 'no valid header' };
    const expected = cols[3] >= 0 ? 4 : 3;
    const isMovielens = this.format === 'movielens-100k' || this.format === 'movielens-1m';
    if (isMovielens ? fields.length < 3 || fields.length > 4 : fields.length !== expected && fields.length !== 3) {
      return { reason: `expected ${expected} fields, got ${fields.length}` };
    }
    const tsField = cols[3] >= 0 ? fields[cols[3]] : undefined;
    const timestamp = tsField !== undefined && tsField.trim() !== '' ? numeric(tsField) : undefined;
    return checkRatingFields(fields[cols[0]].trim(), fields[cols[1]].trim(), numeric(fields[cols[2]]), timestamp, this.scale);
  }
}
