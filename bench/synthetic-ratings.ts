import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../src/engine/rng';

export interface SyntheticShape {
  ratings: number;
  users: number;
  items: number;
  seed: number;
}

/** The shape of MovieLens-32M-sized data the scale benchmark uses (the figures of the issue it answers). */
export const FULL_SHAPE: SyntheticShape = { ratings: 20_000_000, users: 162_000, items: 62_000, seed: 1 };

const RANK = 8;

/**
 * Writes a seeded synthetic rating file in the MovieLens-1M format (`user::item::rating`),
 * grouped by user as MovieLens files are. Users and items have latent tastes (rank 8); a rating
 * is their agreement through a sigmoid onto 1..5 in half stars, plus noise. Item popularity is
 * Zipf-like (exponent 1) and user activity log-normal, so a few items and users hold most
 * ratings, as in real catalogues. Returns the file's path; an existing file of the same shape
 * is reused.
 */
export function writeSyntheticRatings(dir: string, shape: SyntheticShape): string {
  const file = path.join(dir, `synthetic-${shape.ratings}-${shape.users}-${shape.items}-s${shape.seed}.dat`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  const rng = new Rng(shape.seed);
  const { users, items } = shape;
  const itemTaste = new Float32Array(items * RANK);
  for (let k = 0; k < itemTaste.length; k++) itemTaste[k] = rng.normal() * 0.6;
  const itemBias = Float32Array.from({ length: items }, () => rng.normal() * 0.4);
  // Popularity: cumulative Zipf weights over a shuffled order, so item IDs say nothing of rank.
  const order = Int32Array.from({ length: items }, (_, k) => k);
  for (let k = items - 1; k > 0; k--) {
    const j = Math.floor(rng.next() * (k + 1));
    [order[k], order[j]] = [order[j], order[k]];
  }
  const cumulative = new Float64Array(items);
  let acc = 0;
  for (let k = 0; k < items; k++) cumulative[k] = acc += 1 / (k + 10);
  // Activity: log-normal weights scaled to the wanted total, at least 5 and at most a third of the catalogue each.
  const weight = Float64Array.from({ length: users }, () => Math.exp(rng.normal() * 1.1));
  const sum = weight.reduce((a, b) => a + b, 0);
  const counts = Int32Array.from(weight, (w) => Math.min(Math.floor(items / 3), Math.max(5, Math.round((w / sum) * shape.ratings))));
  let surplus = counts.reduce((a, b) => a + b, 0) - shape.ratings;
  for (let u = 0; surplus !== 0; u = (u + 1) % users) {
    if (surplus > 0 && counts[u] > 5) {
      counts[u]--;
      surplus--;
    } else if (surplus < 0 && counts[u] < items / 3) {
      counts[u]++;
      surplus++;
    }
  }

  const out = fs.openSync(`${file}.part`, 'w');
  const taste = new Float32Array(RANK);
  const chosen = new Set<number>();
  let text = '';
  for (let u = 0; u < users; u++) {
    for (let d = 0; d < RANK; d++) taste[d] = rng.normal() * 0.6;
    const userBias = rng.normal() * 0.3;
    chosen.clear();
    while (chosen.size < counts[u]) {
      const x = rng.next() * acc;
      let lo = 0;
      let hi = items - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid] < x) lo = mid + 1;
        else hi = mid;
      }
      chosen.add(order[lo]);
    }
    for (const i of chosen) {
      let dot = itemBias[i] + userBias;
      for (let d = 0; d < RANK; d++) dot += taste[d] * itemTaste[i * RANK + d];
      const v = 1 + 4 / (1 + Math.exp(-dot)) + rng.normal() * 0.35;
      const rating = Math.min(5, Math.max(1, Math.round(v * 2) / 2));
      text += `${u + 1}::${i + 1}::${rating}\n`;
    }
    if (text.length > 1 << 20) {
      fs.writeSync(out, text);
      text = '';
    }
  }
  fs.writeSync(out, text);
  fs.closeSync(out);
  fs.renameSync(`${file}.part`, file);
  return file;
}
