import { AutorecMember, jsServing } from '../src/engine/autorec/member';
import type { AutorecServed } from '../src/engine/autorec/native';
import { initMfParams, MfMember } from '../src/engine/mf/model';
import { portableScore } from '../src/engine/mf/portable';
import { Rng } from '../src/engine/rng';
import { describeNative } from './helpers/native';

const nUsers = 5;
const nItems = 37;
const all = Int32Array.from({ length: nItems }, (_, k) => k);
// A candidate list in a longer scratch array, as the predictor passes them: only the first n count.
const some = Int32Array.from([30, 2, 17, 2, 36, -1, -1]);
const n = 5;

function expectClose(got: Float32Array, want: ArrayLike<number>, count = want.length): void {
  for (let k = 0; k < count; k++) expect(got[k]).toBeCloseTo(want[k], 4);
}

/** A folded-in row equal to a trained user's must score as that user does, over the catalogue and over candidates. */
async function expectRowScoredAsUser(
  net: ReturnType<MfMember['prepare']>,
  row: Float32Array,
  u: number,
  reference: (items: Int32Array, count: number) => ArrayLike<number>,
) {
  const trained = new Float32Array(nItems);
  await net.scoreAll(u, trained);
  const folded = new Float32Array(nItems);
  await net.scoreRowAll(row, folded);
  expectClose(folded, trained);
  expectClose(folded, reference(all, nItems));
  const some0 = new Float32Array(some.length).fill(-7);
  net.scoreRow(row, some, n, some0);
  expectClose(some0, reference(some, n), n);
  // Nothing past the n asked for is written.
  expect(Array.from(some0.subarray(n))).toEqual([-7, -7]);
}

describeNative('folded-in rows are scored in the kernel as the trained rows are', () => {
  test('biased MF', async () => {
    const p = initMfParams({ nUsers, nItems }, 6, 3.5, 1, 0.3);
    const net = new MfMember(p, { lambda: 0.01, lambdaBias: 0.01 }).prepare();
    const W = p.k + 1;
    const u = 3;
    const row = p.users.slice(u * W, (u + 1) * W);
    await expectRowScoredAsUser(net, row, u, (items, count) =>
      portableScore({ ...p, users: row, nUsers: 1 }, new Int32Array(count), items, count, new Float32Array(count)),
    );
  });

  test('I-AutoRec (a hidden width that is not a whole number of vectors)', async () => {
    const rng = new Rng(5);
    const hidden = 13;
    const fill = (length: number) => Float32Array.from({ length }, () => rng.normal());
    const served: AutorecServed = { nUsers, nItems, hidden, V: fill(nUsers * hidden), c: fill(nUsers), codes: fill(nItems * hidden) };
    const net = new AutorecMember(served, {}).prepare();
    const u = 2;
    const row = Float32Array.from([...served.V.subarray(u * hidden, (u + 1) * hidden), served.c[u]]);
    const reference = jsServing(served);
    await expectRowScoredAsUser(net, row, u, (items, count) => {
      const out = new Float32Array(count);
      reference.scoreRow(row, items, count, out);
      return out;
    });
  });
});
