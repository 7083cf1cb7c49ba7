import { parseArgs } from '../src/cli/args';
import { loadNative } from '../src/engine/native';
import { Rng } from '../src/engine/rng';
import { initParams } from '../src/engine/state';
import { runOnKernel } from './kernel-child';
import { machine, printTable, runBench, writeResult } from './report';

// Scoring one user against a MovieLens-1M-sized catalogue, the work behind every recommendation,
// timed on one thread for each kernel variant this CPU runs, each in a process of its own.
const USERS = 6040;
const ITEMS = 3706;
const CALLS = 400;

type Row = Record<string, string | number>;

async function measure(): Promise<Row[]> {
  const addon = loadNative();
  if (!addon) throw new Error('the native kernel is not built');
  const params = initParams({ nUsers: USERS, nItems: ITEMS, d: 10, dp: 60, h1: 50, h2: 50, h3: 50, useBias: true }, 1, 0.3);
  const model = new addon.ServingModel(params);
  const rng = new Rng(3);
  const out = new Float32Array(ITEMS);
  // An average MovieLens-1M user has rated about 165 items; the list leaves out as many.
  const listed = Int32Array.from({ length: ITEMS }, (_, k) => k).filter((k) => k % 22 !== 0);
  const allItems = Int32Array.from({ length: ITEMS }, (_, k) => k);
  const pairUsers = new Int32Array(ITEMS);
  const ways: [string, number, (u: number) => Promise<void>][] = [
    ['scoreAll (whole catalogue, model order)', ITEMS, (u) => model.scoreAll(u, out)],
    ['scoreUser (list of all but 1 in 22)', listed.length, (u) => model.scoreUser(u, listed, listed.length, out)],
    [
      'score (pair by pair, the /predict path)',
      ITEMS,
      async (u) => {
        pairUsers.fill(u);
        model.score(pairUsers, allItems, ITEMS, out);
      },
    ],
  ];
  const rows: Row[] = [];
  for (const [way, items, call] of ways) {
    for (let k = 0; k < 20; k++) await call(Math.floor(rng.next() * USERS));
    const times: number[] = [];
    // Three timed passes; the fastest is the least disturbed by other work on the machine.
    for (let pass = 0; pass < 3; pass++) {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < CALLS; k++) await call(Math.floor(rng.next() * USERS));
      times.push(Number(process.hrtime.bigint() - t0) / 1e6 / CALLS);
    }
    rows.push({ kernel: addon.kernel, way, items, msPerUser: Math.min(...times), msPerUserMedian: times.sort((a, b) => a - b)[1] });
  }
  return rows;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child === true) {
    process.stdout.write(`${JSON.stringify(await measure())}\n`);
    return;
  }
  const rows: Row[] = [];
  for (const kernel of [null, 'avx2', 'generic']) {
    const got = runOnKernel<Row[]>(__filename, ['--child'], kernel);
    // A CPU without AVX-512 runs avx2 by default: that variant is measured once.
    if (!rows.some((r) => r.kernel === got[0]?.kernel)) rows.push(...got);
  }
  printTable(rows);
  writeResult('score-speed', { users: USERS, items: ITEMS, calls: CALLS, rows, machine: machine(), date: new Date().toISOString() });
}

runBench(main);
