/**
 * Item fold-in cost: an item the model does not know, rated by `--raters` users (1,000 by
 * default), folded in by each member kind at MovieLens-1M's shape with the default settings, and
 * its raters read from a real SQLite store of 1M synthetic ratings (the read that serving does on
 * the request thread). Timing does not depend on the values of the weights, so the members are
 * initialised, not trained.
 *
 *   node dist/bench/item-foldin.js [--raters 1000] [--reps 30] [--work DIR]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AutorecMember } from '../src/engine/autorec/member';
import { AUTOREC_DEFAULTS } from '../src/engine/autorec/settings';
import { Ensemble } from '../src/engine/ensemble';
import type { TrainedMember } from '../src/engine/member';
import { MF_DEFAULTS } from '../src/engine/mf/params';
import { initMfParams, MfMember } from '../src/engine/mf/model';
import { loadNative } from '../src/engine/native';
import { NnmfMember, nnmfDims } from '../src/engine/nnmf-member';
import { DEFAULT_PARAMS } from '../src/engine/params';
import { Rng } from '../src/engine/rng';
import { selectEngine } from '../src/engine/select';
import { initParams } from '../src/engine/state';
import { openDatabase } from '../src/db/open';
import { migrate } from '../src/db/migrate';
import { RatingsRepository } from '../src/ratings/repository';
import type { RatingRow } from '../src/ratings/validate';
import { RatingsStore } from '../src/writer/store';
import { percentile } from './report';
import { writeSyntheticRatings } from './synthetic-ratings';

const { values: args } = parseArgs({
  options: { raters: { type: 'string', default: '1000' }, reps: { type: 'string', default: '30' }, work: { type: 'string' } },
});
const RATERS = Number(args.raters);
const REPS = Number(args.reps);
const dims = { nUsers: 6040, nItems: 3706 };

function percentiles(ms: number[]): string {
  const at = (q: number) => percentile(ms, q).toFixed(2);
  return `p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${Math.max(...ms).toFixed(2)} ms`;
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  await fn();
  const out: number[] = [];
  for (let k = 0; k < REPS; k++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

function members(rng: Rng): TrainedMember[] {
  const nnmf = new NnmfMember(initParams(nnmfDims(DEFAULT_PARAMS, dims), 1, 0.1), { ...DEFAULT_PARAMS, lambda: 20 }, selectEngine('native'));
  const mf = new MfMember(initMfParams(dims, MF_DEFAULTS.k, 3.6, 2, 0.1), { ...MF_DEFAULTS });
  const H = AUTOREC_DEFAULTS.hidden;
  const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const autorec = new AutorecMember(
    {
      ...dims,
      hidden: H,
      V: rand(dims.nUsers * H, 0.05),
      c: rand(dims.nUsers, 0.1),
      codes: rand(dims.nItems * H, 0.5),
      encW: rand(dims.nUsers * H, 0.05),
      encB: rand(H, 0.1),
    },
    { ...AUTOREC_DEFAULTS },
  );
  return [mf, autorec, nnmf];
}

/** The store read: 1M synthetic ratings, a snapshot version, then RATERS users rate a new item. */
function storeRead(work: string): { changedFew: number[]; changedAll: number[]; count: number } {
  const file = writeSyntheticRatings(path.join(work, 'data'), { ratings: 1_000_000, users: dims.nUsers, items: dims.nItems, seed: 1 });
  const dir = fs.mkdtempSync(path.join(work, 'db-'));
  const db = openDatabase(dir);
  migrate(db);
  const store = new RatingsStore(db);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const rows: RatingRow[] = [];
  for (const line of lines) {
    if (!line) continue;
    const [u, i, r] = line.split('::');
    rows.push({ userId: `u${u}`, itemId: `i${i}`, rating: Number(r), timestamp: null });
  }
  for (let k = 0; k < rows.length; k += 50_000) store.upsert(rows.slice(k, k + 50_000));
  const repo = new RatingsRepository(db);
  const snapshot = repo.dataVersion();
  const rng = new Rng(4);
  const raters = new Set<number>();
  while (raters.size < RATERS) raters.add(1 + Math.floor(rng.next() * dims.nUsers));
  // One write per rater, as live traffic would make them.
  for (const u of raters) store.upsert([{ userId: `u${u}`, itemId: 'brand-new', rating: 1 + Math.floor(rng.next() * 5), timestamp: null }]);
  const read = (since: number) => {
    const out: number[] = [];
    for (let k = 0; k < REPS; k++) {
      const t0 = process.hrtime.bigint();
      const got = repo.itemFoldInRatings('brand-new', since);
      out.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (got.length !== RATERS) throw new Error(`read ${got.length} raters, wanted ${RATERS}`);
    }
    return out;
  };
  // Since the item was created only its raters changed; then every user writes a rating of
  // another item (the worst case: every user changed after the item was created).
  const changedFew = read(snapshot);
  store.upsert(Array.from({ length: dims.nUsers }, (_, u) => ({ userId: `u${u + 1}`, itemId: 'other', rating: 3, timestamp: null })));
  const res = { changedFew, changedAll: read(snapshot), count: RATERS };
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return res;
}

async function main(): Promise<void> {
  if (!loadNative()) throw new Error('the native kernel is not built');
  const rng = new Rng(3);
  const ms = members(rng);
  const raters = new Set<number>();
  while (raters.size < RATERS) raters.add(Math.floor(rng.next() * dims.nUsers));
  const users = Int32Array.from(raters);
  const ratings = Float32Array.from(users, () => 1 + Math.floor(rng.next() * 5));
  console.log(`item fold-in, ${RATERS} raters, ML-1M shape (${dims.nUsers} users, ${dims.nItems} items), default settings, ${REPS} runs`);
  for (const m of ms) console.log(`  ${m.kind.padEnd(8)} ${percentiles(await time(() => m.foldInItem(users, ratings)))}`);
  const ensemble = new Ensemble(ms, { intercept: 0, weights: [1 / 3, 1 / 3, 1 / 3] }, { min: 1, max: 5 });
  console.log(`  ensemble ${percentiles(await time(() => ensemble.foldInItem(users, ratings)))}`);
  const work = args.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'item-foldin-'));
  const read = storeRead(work);
  console.log(`reading the item's ${read.count} raters from SQLite (1M ratings):`);
  console.log(`  only its raters changed since it was created: ${percentiles(read.changedFew)}`);
  console.log(`  every user changed since it was created: ${percentiles(read.changedAll)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
