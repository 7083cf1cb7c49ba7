import { parseArgs } from '../src/cli/args';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/root';
import { datasetFromTriples, type Dataset } from '../src/engine/dataset';

/** Where MovieLens lives: --data PATH, else MOVIELENS_DIR, else ../shared/data when it exists. */
export function movielensRoot(given?: string): string | null {
  const candidates = [
    given,
    process.env.MOVIELENS_DIR,
    path.resolve(projectRoot(), '..', 'shared', 'data'),
    path.resolve(process.cwd(), '..', 'shared', 'data'),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return path.resolve(c);
  return null;
}

export type MovielensSet = 'ml-100k' | 'ml-1m';

/**
 * A MovieLens benchmark's command line: its flags, the data set (--dataset, else `defaultSet`),
 * the settings given by --params (JSON), and where MovieLens is; exits with 2 when it is not found.
 */
export function movielensCommand(defaultSet: MovielensSet): {
  args: Record<string, string | true>;
  dataset: MovielensSet;
  overrides: Record<string, unknown>;
  root: string;
} {
  const args = parseArgs(process.argv.slice(2));
  const dataset = (args.dataset ?? defaultSet) as MovielensSet;
  if (dataset !== 'ml-100k' && dataset !== 'ml-1m') throw new Error('--dataset must be ml-100k or ml-1m');
  const overrides = typeof args.params === 'string' ? (JSON.parse(args.params) as Record<string, unknown>) : {};
  const root = movielensRoot(typeof args.data === 'string' ? args.data : undefined);
  if (!root) {
    process.stderr.write('MovieLens not found: pass --data PATH (a folder holding ml-100k/ and ml-1m/) or set MOVIELENS_DIR\n');
    process.exit(2);
  }
  return { args, dataset, overrides, root };
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
