import type { Dataset } from '../dataset';

/** Ratings grouped by item: item i's users and ratings are at [start[i], start[i + 1]). */
export interface ItemRatings {
  start: Int32Array;
  users: Int32Array;
  ratings: Float32Array;
}

/** The ratings at `positions`, grouped by item (within an item, in order of position). */
export function ratingsByItem(ds: Dataset, positions: Int32Array, nItems: number): ItemRatings {
  const start = new Int32Array(nItems + 1);
  for (const p of positions) start[ds.i[p] + 1]++;
  for (let i = 0; i < nItems; i++) start[i + 1] += start[i];
  const fill = start.slice(0, nItems);
  const users = new Int32Array(positions.length);
  const ratings = new Float32Array(positions.length);
  for (const p of positions) {
    const k = fill[ds.i[p]]++;
    users[k] = ds.u[p];
    ratings[k] = ds.r[p];
  }
  return { start, users, ratings };
}

/** Items with at least one rating: the ones a training epoch visits. */
export function ratedItems(r: ItemRatings): Int32Array {
  const out: number[] = [];
  for (let i = 0; i + 1 < r.start.length; i++) if (r.start[i + 1] > r.start[i]) out.push(i);
  return Int32Array.from(out);
}
