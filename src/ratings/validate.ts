/** Rules for caller-supplied IDs and ratings, shared by the JSON API, the importer and the CLI. */

export const ID_MAX_LENGTH = 128;
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's purpose
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
export const ID_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f]+$';

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

export function idProblem(value: unknown, field: string): string | null {
  if (typeof value !== 'string') return `${field} must be a string`;
  if (value.length === 0) return `${field} must not be empty`;
  if (value.length > ID_MAX_LENGTH) return `${field} must be at most ${ID_MAX_LENGTH} characters`;
  if (CONTROL_CHARS.test(value)) return `${field} must not contain control characters`;
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
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { reason: 'each entry must be an object with userId, itemId and rating' };
  const o = input as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !['userId', 'itemId', 'rating', 'timestamp'].includes(k));
  if (extra.length) return { reason: `unknown field ${extra[0]}` };
  const problem =
    idProblem(o.userId, 'userId') ?? idProblem(o.itemId, 'itemId') ?? ratingProblem(o.rating, scale) ?? timestampProblem(o.timestamp);
  if (problem) return { reason: problem };
  return {
    row: {
      userId: o.userId as string,
      itemId: o.itemId as string,
      rating: o.rating as number,
      timestamp: (o.timestamp as number | undefined) ?? null,
    },
  };
}
