import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, parseDuration } from '../src/config';
import { missingNodeFlags, SERVER_NODE_FLAGS } from '../src/runtime-tuning';
import { openDatabase } from '../src/db/open';
import { RatingsRepository } from '../src/ratings/repository';
import { tempDataDir } from './helpers/app';

describe('configuration from the environment', () => {
  test('npm start and the Docker image pass node the flags the server expects', () => {
    const root = path.join(__dirname, '..');
    const start = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start as string;
    const cmd = fs
      .readFileSync(path.join(root, 'Dockerfile'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CMD '))!;
    expect(SERVER_NODE_FLAGS.length).toBeGreaterThan(0);
    for (const flag of SERVER_NODE_FLAGS) {
      expect(start.split(' ')).toContain(flag);
      expect(JSON.parse(cmd.slice(4))).toContain(flag);
    }
    expect(missingNodeFlags([...SERVER_NODE_FLAGS, '--cpu-prof'])).toEqual([]);
    expect(missingNodeFlags(['--no-memory-reducer', '--single-threaded-gc'])).toEqual(['--heap-growing-percent=200']);
    expect(missingNodeFlags([])).toEqual(SERVER_NODE_FLAGS);
  });

  test('defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.host).toBe('0.0.0.0');
    expect(c.dataDir).toBe(path.resolve('data'));
    expect([c.ratingMin, c.ratingMax]).toEqual([1, 5]);
    expect(c.apiKeys).toEqual([]);
    expect(c.engine).toBe('auto');
    expect(c.retrainIntervalMs).toBeNull();
  });

  test.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['RATING_MIN', 'abc'],
    ['RATING_MAX', '0'],
    ['API_KEYS', 'short'],
    ['ENGINE', 'gpu'],
    ['ENGINE_THREADS', '0'],
    ['BODY_LIMIT', 'huge'],
    ['MAX_BATCH', '-3'],
    ['RETRAIN_INTERVAL', '0s'],
  ])('an invalid %s=%s names the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(name));
  });

  test('durations', () => {
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('later')).toBeNull();
  });

  test('a custom rating scale is enforced', () => {
    const c = loadConfig({ RATING_MIN: '0', RATING_MAX: '10', API_KEYS: 'a-very-long-key-0001, another-long-key-02' });
    expect([c.ratingMin, c.ratingMax]).toEqual([0, 10]);
    expect(c.apiKeys).toEqual(['a-very-long-key-0001', 'another-long-key-02']);
  });
});

const root = path.join(__dirname, '..');

describe('import command line (compiled by npm install)', () => {
  test('imports a MovieLens-1M style file and prints a summary line', () => {
    const dir = tempDataDir();
    const file = path.join(dir, 'ratings.dat');
    fs.writeFileSync(file, '1::10::5::978300760\n1::11::3::978300761\n2::10::4\n2::12::nine\n');
    const out = execFileSync(
      process.execPath,
      [path.join(root, 'dist', 'src', 'cli', 'import.js'), '--file', file, '--format', 'movielens-1m', '--data-dir', path.join(dir, 'data')],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/inserted 3, updated 0, rejected 1/);
    const db = openDatabase(path.join(dir, 'data'));
    expect(new RatingsRepository(db).stats()).toEqual({ users: 2, items: 2, ratings: 3 });
    db.close();
  });

  test('usage errors exit with status 2', () => {
    const res = spawnSync(process.execPath, [path.join(root, 'dist', 'src', 'cli', 'import.js'), '--format', 'nope'], { encoding: 'utf8' });
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/usage/);
  });

  test('the server refuses to start on invalid configuration', () => {
    const res = spawnSync(process.execPath, [path.join(root, 'dist', 'src', 'server.js')], { encoding: 'utf8', env: { ...process.env, PORT: 'x' } });
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/PORT/);
  });
});
