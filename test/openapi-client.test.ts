import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import ts from 'typescript';
import { tempDataDir, testApp } from './helpers/app';
import { syntheticRatings } from './helpers/synthetic';
import { FAST_TRAINING } from './helpers/training';

// Generated clients are what the spec is for: types generated from openapi.yaml must be enough to
// write a client that compiles, that the compiler stops when it is misused, and that works.
const root = path.join(__dirname, '..');
let dir = '';

const COMPILER_OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.CommonJS,
  lib: ['lib.es2022.d.ts'],
  types: ['node'],
  typeRoots: [path.join(root, 'node_modules', '@types')],
};

const MISUSES = [
  `api.predictRatings({ user: 'u1', item: 'i1' });`,
  `api.createJob({ type: 'retrain' });`,
  `api.createJob({ type: 'train', params: { optimizer: 'sgd' } });`,
  `api.getRecommendations({ userId: 'u1' }, { n: 'ten' });`,
  `api.getJob({ jobId: 'x' });`,
  `void api.predictRatings({ userId: 'u1', itemId: 'i1' }).then((r) => r.predictions[0].rating.toUpperCase());`,
  `void api.getRecommendations({ userId: 'u1' }).then((r) => r.items[0].title);`,
];
const MISUSE_HEADER = [`import { client } from './client';`, `const api = client('http://localhost:8080');`];

/** Type errors of the files compiled together with the generated types, as [file name, line, message]. */
function typeErrors(files: string[]): [string, number, string][] {
  const program = ts.createProgram(files, COMPILER_OPTIONS);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    return [path.basename(d.file?.fileName ?? '?'), line, ts.flattenDiagnosticMessageText(d.messageText, ' ')];
  });
}
let errors: [string, number, string][] = [];

/** What the test uses of the compiled fixture (its own types live beside the generated ones, outside this project). */
interface ClientModule {
  firstSession: (
    base: string,
    ratings: unknown,
    params: unknown,
  ) => Promise<{ inserted: number; status: string; modelId: string; ratingsOut: number[]; fallbacks: (string | null)[]; itemIds: string[] }>;
}

beforeAll(() => {
  dir = tempDataDir();
  const cli = path.join(root, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');
  execFileSync(process.execPath, [cli, path.join(root, 'openapi.yaml'), '--output', path.join(dir, 'api.d.ts')], { stdio: 'pipe' });
  fs.copyFileSync(path.join(__dirname, 'fixtures', 'typed-client.ts'), path.join(dir, 'client.ts'));
  fs.writeFileSync(path.join(dir, 'misuse.ts'), [...MISUSE_HEADER, ...MISUSES].join('\n'));
  // One program for both files: type-checking is the slow part.
  errors = typeErrors([path.join(dir, 'client.ts'), path.join(dir, 'misuse.ts')]);
});

describe('a client typed by openapi-typescript from openapi.yaml', () => {
  test('operations are named by their operationIds', () => {
    const api = fs.readFileSync(path.join(dir, 'api.d.ts'), 'utf8');
    for (const id of ['predictRatings', 'getRecommendations', 'createJob', 'getJob', 'importRatings', 'activateModel']) {
      expect(api).toMatch(new RegExp(`^    ${id}: \\{$`, 'm'));
    }
  });

  test("the dashboard's answer types are the ones generated from this spec (npm run openapi writes both)", () => {
    const committed = fs.readFileSync(path.join(root, 'src', 'dashboard', 'openapi.d.ts'), 'utf8');
    expect(committed).toBe(fs.readFileSync(path.join(dir, 'api.d.ts'), 'utf8'));
  });

  test('the client compiles against the generated types', () => {
    expect(errors.filter(([file]) => file !== 'misuse.ts')).toEqual([]);
  });

  test('misuses of the API do not compile', () => {
    const failing = new Set(errors.filter(([file]) => file === 'misuse.ts').map(([, line]) => line));
    const compiled = MISUSES.filter((_m, k) => !failing.has(MISUSE_HEADER.length + k + 1));
    expect(compiled).toEqual([]);
  });

  describe('against the service over HTTP', () => {
    test('a first session (ratings, training, predictions, recommendations) works as typed', async () => {
      const js = ts.transpileModule(fs.readFileSync(path.join(dir, 'client.ts'), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      fs.writeFileSync(path.join(dir, 'client.js'), js);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module is written by this test at run time
      const { firstSession } = require(path.join(dir, 'client.js')) as ClientModule;

      const app = await testApp();
      await app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const rows = syntheticRatings(60, 40, 15).map(([userId, itemId, rating]) => ({ userId, itemId, rating }));

      const out = await firstSession(base, rows, FAST_TRAINING);
      expect(out.inserted).toBe(rows.length);
      expect(out.status).toBe('succeeded');
      expect(out.modelId).toMatch(/^mdl_/);
      expect(out.fallbacks).toEqual([null, 'item_mean']);
      for (const r of out.ratingsOut) expect(r >= 1 && r <= 5).toBe(true);
      const rated = new Set(rows.filter((r) => r.userId === 'u1').map((r) => r.itemId));
      expect(out.itemIds).toHaveLength(3);
      expect(out.itemIds.filter((id) => rated.has(id))).toEqual([]);
    });
  });
});
