import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { autorecKind, AutorecMember } from '../src/engine/autorec';
import { jsServing } from '../src/engine/autorec/member';
import { loadAutorecNative, type AutorecServed } from '../src/engine/autorec/native';
import { ratedItems, ratingsByItem } from '../src/engine/autorec/ratings';
import { referenceLossAndGrad } from '../src/engine/autorec/reference';
import { initAutorec, zeroSlots } from '../src/engine/autorec/train';
import { randomSplit, type Dataset } from '../src/engine/dataset';
import { metrics } from '../src/engine/evaluate';
import { nativeLoadError } from '../src/engine/native';
import { ParamError } from '../src/engine/params';
import { range } from '../src/engine/rng';
import { loadTf } from '../src/engine/tf';
import { TrainingCancelledError, TrainingDivergedError } from '../src/engine/trainer';
import { relErr } from './helpers/compare';
import { syntheticDataset } from './helpers/synthetic';
import { niceOfTrainingThreads } from './helpers/threads';

const addon = loadAutorecNative();
const withAddon = addon ? describe : describe.skip;
if (!addon) console.warn(`autorec tests that need the native addon are skipped: ${nativeLoadError() ?? 'the addon has no autorec functions'}`);

const scale = { min: 1, max: 5 };
const ds = syntheticDataset(60, 40, 15);
const dims = { nUsers: ds.userIds.length, nItems: ds.itemIds.length };

function splitOf(d: Dataset, seed = 1) {
  const s = randomSplit(d, seed, 0, 0.15);
  return { train: s.train, validation: s.validation };
}

const pairsOf = (d: Dataset, positions: Int32Array) => ({
  u: Int32Array.from(positions, (p) => d.u[p]),
  i: Int32Array.from(positions, (p) => d.i[p]),
  r: Float32Array.from(positions, (p) => d.r[p]),
});

// Small and quick; hidden 37 is not a whole number of vectors, so the loops' tails run too.
const small = { hidden: 37, lambda: 2, lr: 0.01, lrDecay: 0.97, batchSize: 8, maxEpochs: 40, patience: 5 };

describe('autorec settings', () => {
  test('defaults, overrides and checks', () => {
    expect(autorecKind.resolve({})).toEqual(autorecKind.defaults);
    expect(autorecKind.defaults.hidden).toBe(500);
    expect(autorecKind.resolve({ hidden: 20, lambda: 0 })).toMatchObject({ hidden: 20, lambda: 0, lr: autorecKind.defaults.lr });
    expect(() => autorecKind.resolve({ hiden: 20 })).toThrow(ParamError);
    expect(() => autorecKind.resolve({ hidden: 0 })).toThrow(/hidden must be an integer 1..4096/);
    expect(() => autorecKind.resolve({ lambda: -1 })).toThrow(ParamError);
    expect(() => autorecKind.resolve({ lr: 'fast' })).toThrow(ParamError);
    expect(() => autorecKind.resolve({ batchSize: 2.5 })).toThrow(ParamError);
  });

  test('README documents exactly these settings, with their defaults', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### I-AutoRec settings'));
    const table = section.slice(section.indexOf('| setting'));
    const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
    const namesOf = (row: string) => (row.split('|')[1].match(/`(\w+)`/g) ?? []).map((n) => n.slice(1, -1));
    expect(rows.flatMap(namesOf).sort()).toEqual(Object.keys(autorecKind.defaults).sort());
    for (const r of rows) {
      const names = namesOf(r);
      const defaults = r
        .split('|')[2]
        .split(',')
        .map((v) => v.trim());
      names.forEach((n, k) => expect(Number(defaults[k])).toBe(autorecKind.defaults[n as keyof typeof autorecKind.defaults]));
    }
  });

  test('ratings grouped by item keep every training rating once', () => {
    const positions = range(ds.r.length).filter((p) => p % 3 !== 0);
    const r = ratingsByItem(ds, positions, dims.nItems);
    expect(r.start[0]).toBe(0);
    expect(r.start[dims.nItems]).toBe(positions.length);
    for (const p of positions) {
      const i = ds.i[p];
      const found = Array.from(r.users.subarray(r.start[i], r.start[i + 1])).indexOf(ds.u[p]);
      expect(found).toBeGreaterThanOrEqual(0);
      expect(r.ratings[r.start[i] + found]).toBe(ds.r[p]);
    }
    expect(ratedItems(r).length).toBe(new Set(Array.from(positions, (p) => ds.i[p])).size);
  });
});

withAddon('autorec native kernel', () => {
  const settings = autorecKind.resolve({ ...small, initScale: 3 });
  const ratings = ratingsByItem(ds, range(ds.r.length), dims.nItems);

  test('loss and gradient match TF.js autodiff for every parameter', () => {
    const w = initAutorec(dims.nUsers, dims.nItems, settings, 3);
    for (let k = 0; k < w.b.length; k++) w.b[k] = 0.1 * Math.sin(k);
    for (let k = 0; k < w.c.length; k++) w.c[k] = 3 + 0.3 * Math.cos(k);
    const order = Int32Array.from({ length: 25 }, (_, k) => (k * 7) % dims.nItems);
    const native = addon!.autorecLossAndGrad(w, { ...ratings, order }, 2.5);
    const ref = referenceLossAndGrad(loadTf(), w, ratings, order, 2.5);
    expect(Math.abs(native.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    for (const k of ['gW', 'gb', 'gV', 'gc'] as const) expect(relErr(native[k], ref[k])).toBeLessThan(1e-4);
    // The encoder rows of users who rated none of these items carry only the penalty's gradient.
    expect(relErr(native.gb, new Float32Array(native.gb.length))).toBeGreaterThan(0.5);
  });

  test('one epoch on two threads takes the same steps as on one', async () => {
    const run = async (threads: number) => {
      const w = initAutorec(dims.nUsers, dims.nItems, settings, 3);
      const model = { ...w, ...zeroSlots(w) };
      const order = ratedItems(ratings);
      const codes = new Float32Array(dims.nItems * settings.hidden);
      const res = await addon!.autorecTrainEpoch(model, { ...ratings, order }, { batchSize: 8, lr: 0.01, lambda: 2, step: 0, threads, codes });
      expect(res.step).toBe(Math.ceil(order.length / 8));
      expect(res.count).toBe(ds.r.length);
      // The codes handed back are those of the weights after the epoch.
      expect(Array.from(codes)).toEqual(Array.from(addon!.autorecCodes(model, ratings)));
      return { model, res };
    };
    const one = await run(1);
    const two = await run(2);
    expect(Math.abs(one.res.sse - two.res.sse) / one.res.sse).toBeLessThan(1e-5);
    expect(relErr(two.model.W, one.model.W)).toBeLessThan(1e-5);
    expect(relErr(two.model.V, one.model.V)).toBeLessThan(1e-5);
    expect(relErr(one.model.V, initAutorec(dims.nUsers, dims.nItems, settings, 3).V)).toBeGreaterThan(1e-3);
  });

  test('bad arrays and indexes are errors, not out-of-bounds reads; a set cancel flag stops an epoch before its first step', async () => {
    const w = initAutorec(dims.nUsers, dims.nItems, settings, 3);
    const codes = addon!.autorecCodes(w, ratings);
    const served: AutorecServed = { ...dims, hidden: settings.hidden, V: w.V, c: w.c, codes };
    const one = Int32Array.of(0);
    expect(() => addon!.autorecPredict(served, Int32Array.of(0, 1), one)).toThrow(/differ in length/);
    expect(() => addon!.autorecPredict(served, Int32Array.of(dims.nUsers), one)).toThrow(/user index out of range/);
    expect(() => addon!.autorecPredict(served, one, Int32Array.of(-1))).toThrow(/item index out of range/);
    expect(() => addon!.autorecPredict({ ...served, codes: codes.subarray(1) }, one, one)).toThrow(/codes has length/);
    expect(() => addon!.autorecCodes({ ...w, V: new Float32Array(3) }, ratings)).toThrow(/V has length/);
    const badStart = { ...ratings, start: ratings.start.slice() };
    badStart.start[3] = badStart.start[2] - 1;
    expect(() => addon!.autorecCodes(w, badStart)).toThrow(/must not decrease/);
    expect(() => addon!.autorecCodes(w, { ...ratings, users: ratings.users.map((u) => u + dims.nUsers) })).toThrow(/user index/);
    expect(() => addon!.autorecLossAndGrad(w, { ...ratings, order: Int32Array.of(dims.nItems) }, 1)).toThrow(/item index/);
    expect(() =>
      addon!.autorecTrainEpoch(
        { ...w, ...zeroSlots(w), mW: new Float32Array(1) },
        { ...ratings, order: one },
        { batchSize: 1, lr: 1e-3, lambda: 1, step: 0, threads: 1 },
      ),
    ).toThrow(/mW has length/);
    const cancelled = addon!.autorecTrainEpoch(
      { ...w, ...zeroSlots(w) },
      { ...ratings, order: one },
      { batchSize: 1, lr: 1e-3, lambda: 1, step: 0, threads: 1, cancel: Int32Array.of(1) },
    );
    await expect(cancelled).resolves.toMatchObject({ cancelled: true, step: 0, count: 0 });
    const net = new addon!.AutorecServing(served);
    expect(() => net.scoreAll(0, new Float32Array(dims.nItems - 1))).toThrow(/shorter/);
    expect(() => net.scoreAll(dims.nUsers, new Float32Array(dims.nItems))).toThrow(/user index/);
    expect(() => net.scoreUser(0, Int32Array.of(dims.nItems), 1, new Float32Array(1))).toThrow(/item index/);
    expect(() => net.score(one, one, 2, new Float32Array(2))).toThrow(/count/);
  });
});

withAddon('autorec member', () => {
  const split = splitOf(ds);
  let trained: Awaited<ReturnType<typeof autorecKind.train>>;
  let dir: string;
  beforeAll(async () => {
    trained = await autorecKind.train(ds, split, autorecKind.resolve(small), { scale, threads: 1 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autorec-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("learns: validation error below the training mean's, best epoch kept", () => {
    const val = pairsOf(ds, split.validation);
    const mean = Array.from(split.train, (p) => ds.r[p]).reduce((a, b) => a + b, 0) / split.train.length;
    const baseline = metrics(new Float32Array(val.r.length).fill(mean), val.r, scale.min, scale.max).rmse;
    expect(trained.validationRmse).toBeLessThan(0.95 * baseline);
    expect(trained.history).toHaveLength(trained.epochs);
    expect(trained.history[trained.bestEpoch - 1].validationRmse).toBe(trained.validationRmse);
    expect(Math.min(...trained.history.map((h) => h.validationRmse))).toBe(trained.validationRmse);
    // The member returned is the best epoch's, not the last one's.
    const served = metrics(trained.member.predict(val.u, val.i), val.r, scale.min, scale.max).rmse;
    expect(served).toBeCloseTo(trained.validationRmse, 6);
    expect(trained.member.kind).toBe('autorec');
    expect(trained.member.itemEmbedding().dim).toBe(small.hidden);
    expect(trained.member.itemEmbedding().data).toHaveLength(dims.nItems * small.hidden);
  });

  test('a held-out rating never feeds its own prediction', async () => {
    // Only the validation ratings change; one epoch, so early stopping has no choice to make.
    const flipped: Dataset = { ...ds, r: ds.r.slice() };
    for (const p of split.validation) flipped.r[p] = 6 - flipped.r[p];
    const s = autorecKind.resolve({ ...small, maxEpochs: 1 });
    const a = await autorecKind.train(ds, split, s, { scale, threads: 1 });
    const b = await autorecKind.train(flipped, split, s, { scale, threads: 1 });
    const val = pairsOf(ds, split.validation);
    expect(Array.from(b.member.predict(val.u, val.i))).toEqual(Array.from(a.member.predict(val.u, val.i)));
    expect(b.validationRmse).not.toBeCloseTo(a.validationRmse, 2);
  });

  test('serving scores equal the pair predictions', async () => {
    const m = trained.member;
    const net = m.prepare();
    const u = 5;
    const all = new Float32Array(dims.nItems);
    await net.scoreAll(u, all);
    const pairs = m.predict(new Int32Array(dims.nItems).fill(u), range(dims.nItems));
    expect(relErr(all, pairs)).toBeLessThan(1e-6);
    const list = Int32Array.of(7, 3, 39, 0);
    const some = new Float32Array(4);
    await net.scoreUser(u, list, 4, some);
    expect(Array.from(some)).toEqual(Array.from(list, (i) => all[i]));
    const out = new Float32Array(2);
    net.score(Int32Array.of(u, 1), Int32Array.of(3, 4), 2, out);
    expect(out[0]).toBe(all[3]);
    // The plain JavaScript scorer (no addon) gives the same numbers.
    const js = new Float32Array(dims.nItems);
    await jsServing((m as AutorecMember).served).scoreAll(u, js);
    expect(relErr(js, all)).toBeLessThan(1e-6);
    expect(Math.max(...all) - Math.min(...all)).toBeGreaterThan(0.1);
  });

  test("the serving object scores on the member's own arrays, exactly as the pair predictions, without copying them", async () => {
    const t = trained.member as AutorecMember;
    const s = t.served;
    const m = new AutorecMember({ ...s, V: s.V.slice(), c: s.c.slice(), codes: s.codes.slice() }, t.settings);
    const net = m.prepare();
    const u = 9;
    const all = new Float32Array(dims.nItems);
    await net.scoreAll(u, all);
    // The same dot products as autorecPredict (hidden 37: a tail of 5 after the vectors), to the bit.
    expect(Array.from(all)).toEqual(Array.from(m.predict(new Int32Array(dims.nItems).fill(u), range(dims.nItems))));
    // A change to the member's arrays (an erasure) is what the prepared object scores next: it
    // borrowed them (a copy would go on serving the old row).
    m.eraseUser(u);
    await net.scoreAll(u, all);
    expect(all.every((v) => v === 0)).toBe(true);
    const one = new Float32Array(1);
    net.score(Int32Array.of(u), Int32Array.of(2), 1, one);
    expect(one[0]).toBe(0);
  });

  test('saved and loaded without the dataset, it predicts exactly the same', async () => {
    await trained.member.save(dir);
    expect(fs.existsSync(path.join(dir, 'model.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'weights.bin'))).toBe(true);
    const loaded = await autorecKind.load(dir, trained.member.settings, trained.member.dims);
    const u = Int32Array.from(ds.u);
    const i = Int32Array.from(ds.i);
    expect(Array.from(loaded.predict(u, i))).toEqual(Array.from(trained.member.predict(u, i)));
    expect(Array.from(loaded.itemEmbedding().data)).toEqual(Array.from(trained.member.itemEmbedding().data));
    // A standard layers model: for an item it outputs the item's reconstructed rating of every
    // user; its second input, an item's ratings over all users, gives the item's code (the encoder, kept for item fold-in).
    const tf = loadTf();
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const weights = fs.readFileSync(path.join(dir, 'weights.bin'));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: new Uint8Array(weights).buffer,
      }),
    );
    type T = ReturnType<typeof tf.tensor>;
    const [out, code] = tf.tidy(() =>
      (model.predict([tf.tensor2d([[4]], [1, 1], 'int32'), tf.zeros([1, dims.nUsers])]) as T[]).map((t) => t.dataSync() as Float32Array),
    );
    model.dispose();
    const expected = trained.member.predict(range(dims.nUsers), new Int32Array(dims.nUsers).fill(4));
    expect(relErr(out, expected)).toBeLessThan(1e-5);
    // No ratings: the code is sigmoid(b).
    const noRatings = await (loaded as AutorecMember).foldInItem(new Int32Array(0), new Float32Array(0));
    expect(relErr(code, noRatings)).toBeLessThan(1e-5);
    expect(
      relErr(
        noRatings,
        Float32Array.from((loaded as AutorecMember).served.encB!, (b) => 1 / (1 + Math.exp(-b))),
      ),
    ).toBeLessThan(1e-6);
  });

  const linuxOnly = process.platform === 'linux' ? test : test.skip;
  linuxOnly('epochs run on threads at a lower priority than the JavaScript thread', async () => {
    const settings = autorecKind.resolve({ ...small, hidden: 200, maxEpochs: 10_000, patience: 10_000 });
    const { seen, own, error } = await niceOfTrainingThreads((signal, onEpoch) =>
      autorecKind.train(ds, split, settings, { scale, threads: 2, signal, onEpoch }),
    );
    expect(error).toBeInstanceOf(TrainingCancelledError);
    expect(seen).toContain(10);
    expect(own).toBe(0);
  });

  test('cancellation and divergence stop training with their errors', async () => {
    const ac = new AbortController();
    const epochs: number[] = [];
    await expect(
      autorecKind.train(ds, split, autorecKind.resolve(small), {
        scale,
        threads: 1,
        signal: ac.signal,
        onEpoch: (p) => {
          epochs.push(p.epoch);
          if (p.epoch === 2) ac.abort();
        },
      }),
    ).rejects.toBeInstanceOf(TrainingCancelledError);
    expect(epochs).toEqual([1, 2]);
    await expect(autorecKind.train(ds, split, autorecKind.resolve({ ...small, lr: 1000, lambda: 0 }), { scale, threads: 1 })).rejects.toBeInstanceOf(
      TrainingDivergedError,
    );
  });
});
