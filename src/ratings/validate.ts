/** Rules for caller-supplied IDs and ratings, shared by the JSON API, the importer and the CLI. */

export const ID_MAX_LENGTH = 128;
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's purpose
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
export const ID_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f]+$';
/** The JSON-schema format of IDs: well-formed Unicode (no lone UTF-16 surrogate). */
export const ID_FORMAT = 'reco-id';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A lone surrogate cannot be encoded as UTF-8: stored, it would come back as U+FFFD and never
 * match the ID it was stored under again.
 */
export function isWellFormed(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

export interface RatingScale {
  min: number;
  max: number;
}

export interface RatingRow {
  userId: string;
  itemId: string;
  rating: number;
  timestamp: number | null;
}

export const ILL_FORMED = 'must be well-formed Unicode (it holds a lone UTF-16 surrogate)';

// Nearly every ID is printable ASCII: one test clears it of both checks below (bulk imports run this per row).
const NOT_PLAIN_ASCII = /[^\x20-\x7e]/;

export function idProblem(value: unknown, field: string): string | null {
  if (typeof value !== 'string') return `${field} must be a string`;
  if (value.length === 0) return `${field} must not be empty`;
  if (value.length > ID_MAX_LENGTH) return `${field} must be at most ${ID_MAX_LENGTH} characters`;
  if (!NOT_PLAIN_ASCII.test(value)) return null;
  if (CONTROL_CHARS.test(value)) return `${field} must not contain control characters`;
  if (!isWellFormed(value)) return `${field} ${ILL_FORMED}`;
  return null;
}

export function ratingProblem(value: unknown, scale: RatingScale): string | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'rating must be a finite number';
  if (value < scale.min || value > scale.max) return `rating must be between ${scale.min} and ${scale.max}`;
  return null;
}

export function timestampProblem(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return 'timestamp must be a non-negative integer (seconds since the epoch)';
  }
  return null;
}

/** Checks one untrusted rating object; returns the row or the reason it is rejected. */
export function checkRatingInput(input: unknown, scale: RatingScale): { row: RatingRow } | { reason: string } {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return { reason: 'each entry must be an object with userId, itemId and rating' };
  const o = input as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !['userId', 'itemId', 'rating', 'timestamp'].includes(k));
  if (extra.length) return { reason: `unknown field ${extra[0]}` };
  return checkRatingFields(o.userId, o.itemId, o.rating, o.timestamp, scale);
}

/** Checks the four values of a rating, as the importer's parsers and checkRatingInput find them. */
export function checkRatingFields(
  userId: unknown,
  itemId: unknown,
  rating: unknown,
  timestamp: unknown,
  scale: RatingScale,
): { row: RatingRow } | { reason: string } {
  const problem = idProblem(userId, 'userId') ?? idProblem(itemId, 'itemId') ?? ratingProblem(rating, scale) ?? timestampProblem(timestamp);
  if (problem) return { reason: problem };
  return {
    row: { userId: userId as string, itemId: itemId as string, rating: rating as number, timestamp: (timestamp as number | undefined) ?? null },
  };
}

/** Why a batch is refused, named as in the error catalogue (src/errors.ts). */
export type BatchProblem = {
  kind: 'EMPTY_BODY' | 'MALFORMED_JSON' | 'VALIDATION' | 'INVALID_RATING' | 'INVALID_ID' | 'BATCH_TOO_LARGE';
  message: string;
  details?: unknown;
};

/** Checks the JSON text of POST /ratings: one rating or an array of them, all valid or none stored. */
export function checkRatingBatch(text: string, scale: RatingScale, maxBatch: number): { rows: RatingRow[] } | BatchProblem {
  if (text.trim() === '') return { kind: 'EMPTY_BODY', message: 'request body is empty' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: 'MALFORMED_JSON', message: 'request body is not valid JSON' };
  }
  const list = Array.isArray(body) ? body : [body];
  if (Array.isArray(body) && body.length === 0) return { kind: 'VALIDATION', message: 'ratings array is empty' };
  if (list.length > maxBatch) return { kind: 'BATCH_TOO_LARGE', message: `at most ${maxBatch} ratings per request, got ${list.length}` };
  const bad: { index: number; reason: string }[] = [];
  const rows: RatingRow[] = [];
  list.forEach((input, index) => {
    const r = checkRatingInput(input, scale);
    if ('reason' in r) bad.push({ index, reason: r.reason });
    else rows.push(r.row);
  });
  if (bad.length === 0) return { rows };
  // Every bad row is listed (up to 100); the code names the one kind of problem when there is one.
  const kind = bad.every((b) => b.reason.startsWith('rating'))
    ? 'INVALID_RATING'
    : bad.every((b) => b.reason.endsWith(ILL_FORMED))
      ? 'INVALID_ID'
      : 'VALIDATION';
  return { kind, message: `${bad.length} of ${list.length} ratings rejected; nothing was stored`, details: bad.slice(0, 100) };
}
