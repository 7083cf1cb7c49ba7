import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/root';
import { datasetFromTriples, type Dataset } from '../src/engine/dataset';

/** Where MovieLens lives: --data PATH, else MOVIELENS_DIR, else ../shared/data when it exists. */
export function movielensRoot(given?: string): string | null {
  const candidates = [given, process.env.MOVIELENS_DIR, path.resolve(projectRoot(), '..', 'shared', 'data'), path.resolve(process.cwd(), '..', 'shared', 'data')];
  for (const c of candidates) if (c && fs.existsSync(c)) return path.resolve(c);
  return null;
}

function* lines(file: string, sep: string): Generator<[string, string, number]> {
  const text = fs.readFileSync(file, 'latin1');
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split(sep);
    yield [f[0], f[1], Number(f[2])];
  }
}

export function loadMovielens(name: 'ml-100k' | 'ml-1m', root: string): Dataset {
  if (name === 'ml-100k') return datasetFromTriples(lines(path.join(root, 'ml-100k', 'u.data'), '\t'));
  const dir = path.join(root, 'ml-1m');
  const file = ['ratings.dat', 'ratings_no_timestamps.dat'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`no ratings.dat in ${dir}`);
  return datasetFromTriples(lines(file, '::'));
}
