import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadCheckpoint } from '../src/engine/checkpoint';
import { memberKinds } from '../src/engine/kinds';
import { initMfParams, MfMember } from '../src/engine/mf/model';
import { NnmfMember } from '../src/engine/nnmf-member';
import { AutorecMember } from '../src/engine/autorec/member';
import { loadAutorecNative } from '../src/engine/autorec/native';
import { FoldInUnavailableError } from '../src/engine/member';
import { loadTf } from '../src/engine/tf';
import { loadNative } from '../src/engine/native';
import { ridgeReference } from '../src/engine/ridge';
import { Rng } from '../src/engine/rng';
import { selectEngine } from '../src/engine/select';
import { initParams } from '../src/engine/state';
import { parseFilter } from '../src/serving/catalogue';
import { postJson, tempDataDir, testApp } from './helpers/app';
import { describeNative } from './helpers/native';
import { syntheticRatings } from './helpers/synthetic';
import { FAST_TRAINING, importSynthetic, trainModel } from './helpers/training';

const predictOne = async (app: FastifyInstance, userId: string, itemId: string) => {
  const res = await postJson(app, '/predict', { userId, itemId });
  expect(res.statusCode).toBe(200);
  return res.json().predictions[0] as { rating: number; fallback: string | null; source: string };
};

const recommend = async (app: FastifyInstance, userId: string, query = '') => {
  const res = await app.inject({ url: `/users/${userId}/recommendations?${query}` });
  expect(res.statusCode).toBe(200);
  return res.json<{ items: { itemId: string; score: number }[]; fallback: string | null; source: string }>();
};

describeNative('live personalisation over HTTP (every model kind in one ensemble)', () => {
  let app: FastifyInstance;
  let dataDir: string;
  let firstModel: string;

  beforeAll(async () => {
    dataDir = tempDataDir();
    app = await testApp({}, dataDir);
    await importSynthetic(app, syntheticRatings(120, 60, 20, 5));
    const job = await trainModel(app, FAST_TRAINING);
    expect(job.status).toBe('succeeded');
    firstModel = job.modelId;
    expect(app.registry.active?.model.kinds).toEqual(['mf', 'autorec', 'nnmf']);
  }, 120_000);
  afterAll(async () => {
    await app.close();
  });

  test('a new user goes from fallback to fold-in after rating, and back to fallback after deletion', async () => {
    const before = await predictOne(app, 'newcomer', 'i3');
    expect(before).toMatchObject({ fallback: 'item_mean', source: 'fallback' });
    expect((await recommend(app, 'newcomer', 'n=5')).fallback).toBe('popular');

    const rows = ['i1', 'i2', 'i4', 'i5', 'i6', 'i7', 'i8', 'i9', 'i10', 'i11'].map((itemId, k) => ({
      userId: 'newcomer',
      itemId,
      rating: k < 5 ? 5 : 1,
    }));
    expect((await postJson(app, '/ratings', rows)).statusCode).toBe(200);
    const after = await predictOne(app, 'newcomer', 'i3');
    expect(after).toMatchObject({ fallback: null, source: 'foldin' });
    expect(Number.isFinite(after.rating)).toBe(true);
    const recs = await recommend(app, 'newcomer', 'n=5');
    expect(recs).toMatchObject({ fallback: null, source: 'foldin' });
    expect(recs.items).toHaveLength(5);
    // Rated items are left out of their recommendations by default.
    for (const r of recs.items) expect(rows.map((x) => x.itemId)).not.toContain(r.itemId);

    expect((await app.inject({ method: 'DELETE', url: '/users/newcomer' })).statusCode).toBe(204);
    expect(await predictOne(app, 'newcomer', 'i3')).toMatchObject({ fallback: 'item_mean', source: 'fallback' });
    expect(await recommend(app, 'newcomer', 'n=5')).toMatchObject({ fallback: 'popular', source: 'fallback' });
  });

  test("a known user's new rating changes their next prediction without retraining", async () => {
    const before = await predictOne(app, 'u7', 'i30');
    expect(before.source).toBe('trained');
    const rated = (await app.inject({ url: '/users/u7/ratings?limit=100' })).json().ratings as { itemId: string; rating: number }[];
    // The user now rates everything they rated before at the opposite end of the scale.
    const flipped = rated.map((r) => ({ userId: 'u7', itemId: r.itemId, rating: r.rating >= 3 ? 1 : 5 }));
    expect((await postJson(app, '/ratings', flipped)).statusCode).toBe(200);
    const after = await predictOne(app, 'u7', 'i30');
    expect(after.source).toBe('foldin');
    expect(after.rating).not.toBeCloseTo(before.rating, 3);
    expect((await recommend(app, 'u7', 'n=3')).source).toBe('foldin');
  });

  test('fold-in of a user whose ratings are all equal gives finite numbers', async () => {
    const rows = ['i1', 'i2', 'i3', 'i4', 'i5', 'i6'].map((itemId) => ({ userId: 'flat', itemId, rating: 3 }));
    expect((await postJson(app, '/ratings', rows)).statusCode).toBe(200);
    const res = await postJson(app, '/predict', { pairs: ['i7', 'i8', 'i9'].map((itemId) => ({ userId: 'flat', itemId })) });
    for (const p of res.json().predictions) {
      expect(p.source).toBe('foldin');
      expect(Number.isFinite(p.rating)).toBe(true);
    }
    for (const r of (await recommend(app, 'flat', 'n=4')).items) expect(Number.isFinite(r.score)).toBe(true);
  });

  test('a hidden item never appears in any list, and comes back when shown', async () => {
    const popular = await recommend(app, 'nobody-at-all', 'n=3');
    const target = popular.items[0].itemId;
    expect((await app.inject({ method: 'PUT', url: `/items/${target}`, payload: { title: 'Withdrawn', hidden: true } })).json().hidden).toBe(true);
    const lists = [
      (await recommend(app, 'nobody-at-all', 'n=60')).items,
      (await recommend(app, 'u3', 'n=60&excludeRated=false')).items,
      (await postJson(app, '/users/u3/recommendations', { candidates: [target, 'i1', 'i2'] })).json().items,
      (await app.inject({ url: '/items/i1/similar?n=60' })).json().items,
    ] as { itemId: string }[][];
    for (const list of lists) {
      expect(list.length).toBeGreaterThan(0);
      expect(list.map((x) => x.itemId)).not.toContain(target);
    }
    // Ratings of a hidden item still count: it keeps them.
    expect((await app.inject({ url: `/items/${target}` })).json().ratingCount).toBeGreaterThan(0);
    await app.inject({ method: 'PUT', url: `/items/${target}`, payload: { title: 'Back', hidden: false } });
    expect((await recommend(app, 'nobody-at-all', 'n=3')).items[0].itemId).toBe(target);
  });

  test('a filter that matches fewer than n items returns exactly those, ranked', async () => {
    for (const [id, genre] of [
      ['i4', ['Comedy', 'Drama']],
      ['i9', 'Comedy'],
      ['i12', 'Horror'],
      ['i20', 'Drama'],
    ] as const) {
      await app.inject({ method: 'PUT', url: `/items/${id}`, payload: { attributes: { genre } } });
    }
    const personal = await recommend(app, 'u5', 'n=10&excludeRated=false&filter=genre:Comedy');
    expect(personal.items.map((x) => x.itemId).sort()).toEqual(['i4', 'i9']);
    const either = await recommend(app, 'nobody', 'n=10&filter=genre:Comedy,Horror');
    expect(either.items.map((x) => x.itemId).sort()).toEqual(['i12', 'i4', 'i9']);
    const similar = (await app.inject({ url: '/items/i1/similar?n=10&filter=genre:Drama' })).json().items as { itemId: string }[];
    expect(similar.map((x) => x.itemId).sort()).toEqual(['i20', 'i4']);
    const bad = await app.inject({ url: '/users/u5/recommendations?filter=genre' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('RECO_ERR_INVALID_FILTER');
  });

  test('a new item rated by several users is folded in: personal, finite predictions, and a place in their lists', async () => {
    // Before it has ratings the item is unknown: a fallback.
    expect((await app.inject({ method: 'PUT', url: '/items/fresh', payload: { title: 'Fresh' } })).statusCode).toBe(201);
    expect(await predictOne(app, 'u20', 'fresh')).toMatchObject({ source: 'fallback' });

    const raters = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u8', 'u9'];
    const rows = raters.map((userId, k) => ({ userId, itemId: 'fresh', rating: [5, 4, 5, 2, 4, 5, 3, 4][k] }));
    expect((await postJson(app, '/ratings', rows)).statusCode).toBe(200);
    const itemMean = rows.reduce((s, r) => s + r.rating, 0) / rows.length;
    const users = ['u20', 'u21', 'u22', 'u23', 'u24', 'u25'];
    const res = await postJson(app, '/predict', { pairs: users.map((userId) => ({ userId, itemId: 'fresh' })) });
    const preds = res.json().predictions as { rating: number; fallback: string | null; source: string }[];
    for (const p of preds) {
      expect(p).toMatchObject({ fallback: null, source: 'foldin' });
      expect(Number.isFinite(p.rating)).toBe(true);
    }
    // Personal: the users do not all get the item's mean, nor one number.
    expect(preds.some((p) => Math.abs(p.rating - itemMean) > 1e-3)).toBe(true);
    expect(new Set(preds.map((p) => p.rating.toFixed(4))).size).toBeGreaterThan(1);
    // A user with no ratings at all gets the item's mean, marked.
    expect(await predictOne(app, 'stranger', 'fresh')).toMatchObject({ fallback: 'item_mean', source: 'fallback', rating: itemMean });

    // Rerank and the full personal list both rank it among the known items, marked.
    const rerank = (await postJson(app, '/users/u20/recommendations', { candidates: ['fresh', 'i1', 'i2', 'never-rated'] })).json();
    expect(rerank.items.find((x: { itemId: string }) => x.itemId === 'fresh')).toMatchObject({ source: 'foldin' });
    expect(rerank.items.find((x: { itemId: string }) => x.itemId === 'never-rated')).toMatchObject({ source: 'fallback' });
    const full = await recommend(app, 'u20', 'n=100&excludeRated=false');
    const listed = full.items.find((x) => x.itemId === 'fresh') as { score: number; source?: string } | undefined;
    expect(listed).toMatchObject({ source: 'foldin' });
    expect(listed!.score).toBeCloseTo(preds[0].rating, 4);
    // A rater's list leaves it out (rated), as for any item.
    expect((await recommend(app, 'u1', 'n=100')).items.map((x) => x.itemId)).not.toContain('fresh');

    // Its next rating changes its row: the cache follows the item's changed version.
    expect((await postJson(app, '/ratings', [{ userId: 'u10', itemId: 'fresh', rating: 1 }])).statusCode).toBe(200);
    const after = await predictOne(app, 'u20', 'fresh');
    expect(after.source).toBe('foldin');
    expect(after.rating).not.toBeCloseTo(preds[0].rating, 4);

    // Erasing a rater refits it without their rating (their deletion marks the items they rated changed).
    expect((await app.inject({ method: 'DELETE', url: '/users/u9' })).statusCode).toBe(204);
    const erased = await predictOne(app, 'u20', 'fresh');
    expect(erased.source).toBe('foldin');
    expect(erased.rating).not.toBeCloseTo(after.rating, 4);
  });

  test('an item rated only by users the model does not know keeps a marked fallback', async () => {
    const rows = ['late1', 'late2'].map((userId) => ({ userId, itemId: 'lonely', rating: 5 }));
    expect((await postJson(app, '/ratings', rows)).statusCode).toBe(200);
    expect(await predictOne(app, 'u20', 'lonely')).toMatchObject({ fallback: 'user_mean', source: 'fallback' });
    const rerank = (await postJson(app, '/users/u20/recommendations', { candidates: ['lonely', 'i1'] })).json();
    expect(rerank.items.find((x: { itemId: string }) => x.itemId === 'lonely')).toMatchObject({ source: 'fallback' });
  });

  test('the store marks an item changed on every write or delete of its ratings', async () => {
    const version = () => app.ratings.itemChangedVersion('i33')!;
    const v0 = version();
    expect((await postJson(app, '/ratings', [{ userId: 'u40', itemId: 'i33', rating: 2 }])).statusCode).toBe(200);
    const v1 = version();
    expect(v1).toBeGreaterThan(v0);
    expect((await app.inject({ method: 'DELETE', url: '/users/u40/ratings/i33' })).statusCode).toBe(204);
    const v2 = version();
    expect(v2).toBeGreaterThan(v1);
    // Another item's write leaves it as it was.
    expect((await postJson(app, '/ratings', [{ userId: 'u40', itemId: 'i34', rating: 2 }])).statusCode).toBe(200);
    expect(version()).toBe(v2);
    expect(app.ratings.itemChangedVersion('no-such-item')).toBeNull();
  });

  test('erasure reaches every stored checkpoint, and re-activating an older model does not serve the user', async () => {
    const job = await trainModel(app, { ...FAST_TRAINING, seed: 2 });
    expect(job.status).toBe('succeeded');
    const dirs = [firstModel, job.modelId].map((id) => path.join(dataDir, 'models', id));
    const victim = 'u11';
    const indexes = dirs.map((dir) =>
      (JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { userIds: string[] }).userIds.indexOf(victim),
    );
    for (const u of indexes) expect(u).toBeGreaterThanOrEqual(0);

    expect((await app.inject({ method: 'DELETE', url: `/users/${victim}` })).statusCode).toBe(204);

    const kinds = memberKinds(selectEngine('native'), 'serve');
    for (const [k, dir] of dirs.entries()) {
      const raw = fs.readFileSync(path.join(dir, 'meta.json'), 'utf8');
      expect(raw).not.toContain(`"${victim}"`);
      // The checkpoint still verifies (its hashes were updated) and the user's rows are zero.
      const { model } = await loadCheckpoint(dir, kinds);
      const u = indexes[k];
      for (const m of model.members) {
        if (m instanceof NnmfMember) {
          const R = m.userRowWidth;
          expect([...m.params.users.subarray(u * R, (u + 1) * R)].every((v) => v === 0)).toBe(true);
          expect(m.params.users.subarray(0, R).some((v) => v !== 0) || u === 0).toBe(true);
        } else if (m instanceof MfMember) {
          const W = m.userRowWidth;
          expect([...m.params.users.subarray(u * W, (u + 1) * W)].every((v) => v === 0)).toBe(true);
        } else if (m instanceof AutorecMember) {
          const H = m.served.hidden;
          expect([...m.served.V.subarray(u * H, (u + 1) * H)].every((v) => v === 0)).toBe(true);
          expect(m.served.c[u]).toBe(0);
          // The encoder (kept for item fold-in) has a row per user too.
          expect(m.served.encW).toBeDefined();
          expect([...m.served.encW!.subarray(u * H, (u + 1) * H)].every((v) => v === 0)).toBe(true);
          expect([...m.served.encB!].some((v) => v !== 0)).toBe(true);
        }
      }
    }
    // Rolling back to the first model: the erased user is still served by a fallback only.
    expect((await app.inject({ method: 'POST', url: `/models/${firstModel}/activate` })).statusCode).toBe(200);
    expect(app.registry.active?.modelId).toBe(firstModel);
    expect(app.registry.active?.hasUser(victim)).toBe(false);
    expect(await predictOne(app, victim, 'i1')).toMatchObject({ source: 'fallback' });
    expect((await recommend(app, victim)).fallback).toBe('popular');
  }, 60_000);

  test('DELETE /items removes the item from every list and its ratings from the store', async () => {
    expect((await app.inject({ method: 'DELETE', url: '/items/i2' })).statusCode).toBe(204);
    expect((await app.inject({ url: '/items/i2' })).statusCode).toBe(404);
    expect((await recommend(app, 'nobody', 'n=60')).items.map((x) => x.itemId)).not.toContain('i2');
    expect((await recommend(app, 'u1', 'n=60&excludeRated=false')).items.map((x) => x.itemId)).not.toContain('i2');
    expect(await predictOne(app, 'u1', 'i2')).toMatchObject({ source: 'fallback' });
    expect((await app.inject({ method: 'DELETE', url: '/items/i2' })).statusCode).toBe(404);
  });
});

/**
 * A fold-in's row against its objective: the loss it reports is the objective's at the row, lower
 * than at the start, and near a minimum every coordinate's central difference is small next to
 * the objective's scale.
 */
function expectMinimum(objective: (row: Float32Array) => number, start: Float32Array, row: Float32Array, loss: number): void {
  expect(loss).toBeCloseTo(objective(row), 2);
  expect(loss).toBeLessThan(objective(start));
  for (let k = 0; k < row.length; k++) {
    const h = 1e-2;
    const a = row.slice();
    const b = row.slice();
    a[k] += h;
    b[k] -= h;
    expect(Math.abs((objective(a) - objective(b)) / (2 * h))).toBeLessThan(0.05 * loss);
  }
}

describeNative('fold-in kernels', () => {
  test('the native ridge solver agrees with the TypeScript reference, in its primal and dual forms', async () => {
    const rng = new Rng(3);
    const addon = loadNative()!;
    // Primal and dual forms, each summing one and several panels of 256 (ratings in the primal,
    // features in the dual) into matrices that are and are not whole 4 × 8 tiles, factorised in
    // one and several blocks of 32 columns.
    for (const [n, p] of [
      [40, 6],
      [600, 37],
      [400, 75],
      [300, 16],
      [5, 30],
      [19, 40],
      [13, 300],
      [90, 501],
    ]) {
      const X = Float32Array.from({ length: n * p }, () => rng.normal());
      const y = Float32Array.from({ length: n }, () => rng.normal());
      const lambda = Float32Array.from({ length: p }, (_, k) => 0.1 + k * 0.05);
      const want = ridgeReference(X, y, lambda);
      const got = await addon.ridge(X, y, lambda);
      for (let k = 0; k < p; k++) expect(got[k]).toBeCloseTo(want[k], 4);
      // The solution is a minimum: the gradient Xᵀ(Xw − y) + Λw vanishes.
      for (let k = 0; k < p; k++) {
        let g = lambda[k] * want[k];
        for (let i = 0; i < n; i++) {
          let r = -y[i];
          for (let j = 0; j < p; j++) r += X[i * p + j] * want[j];
          g += X[i * p + k] * r;
        }
        expect(Math.abs(g)).toBeLessThan(1e-3);
      }
    }
  });

  test.each([
    { h1: 8, h2: 8, h3: 8, useBias: true },
    { h1: 5, h2: 9, h3: 7, useBias: false },
  ])('NNMF fold-in lowers the training objective, and its row is a stationary point (checked by finite differences): %o', async (shape) => {
    const addon = loadNative()!;
    const p = initParams({ nUsers: 1, nItems: 40, d: 3, dp: 5, ...shape }, 4, 0.5);
    const rng = new Rng(9);
    // More ratings than the kernel's chunk of 32 samples, so that the steps sum over several chunks.
    const items = Int32Array.from({ length: 37 }, (_, k) => k);
    const ratings = Float32Array.from(items, () => 1 + Math.floor(rng.next() * 5));
    const lambda = 0.5;
    const objective = (row: Float32Array) => {
      const y = addon.predict({ ...p, users: row }, new Int32Array(items.length), items);
      let s = 0;
      for (let k = 0; k < items.length; k++) s += (y[k] - ratings[k]) ** 2;
      return s + lambda * row.reduce((a, v) => a + v * v, 0);
    };
    const start = new Float32Array(p.users);
    const row = start.slice();
    const res = await addon.foldIn(p, items, ratings, row, { lambda, lr: 0.05, steps: 400 });
    expectMinimum(objective, start, row, res.loss);
  });
});

describeNative('item fold-in, per model kind', () => {
  test("MF: [q_i, b_i] is the ridge solution against the raters' rows, offset by the mean and their biases", async () => {
    const rng = new Rng(5);
    const k = 4;
    const params = initMfParams({ nUsers: 30, nItems: 10 }, k, 3.6, 7, 0.5);
    for (let u = 0; u < 30; u++) params.users[u * (k + 1) + k] = rng.normal() * 0.3;
    const settings = { lambda: 0.05, lambdaBias: 0.01 };
    const member = new MfMember(params, settings);
    const users = Int32Array.from({ length: 12 }, (_, j) => 2 * j + 1);
    const ratings = Float32Array.from(users, () => 1 + Math.floor(rng.next() * 5));
    const row = await member.foldInItem(users, ratings);
    expect(row).toHaveLength(member.itemRowWidth);
    // The same system written out here: features [p_u | 1], target r − mean − b_u, n·λ and n·λ_bias.
    const n = users.length;
    const X = new Float32Array(n * (k + 1));
    const y = new Float32Array(n);
    users.forEach((u, j) => {
      for (let f = 0; f < k; f++) X[j * (k + 1) + f] = params.users[u * (k + 1) + f];
      X[j * (k + 1) + k] = 1;
      y[j] = ratings[j] - 3.6 - params.users[u * (k + 1) + k];
    });
    const lambda = Float32Array.from({ length: k + 1 }, (_, f) => n * (f < k ? settings.lambda : settings.lambdaBias));
    const want = ridgeReference(X, y, lambda);
    for (let f = 0; f <= k; f++) expect(row[f]).toBeCloseTo(want[f], 4);
    // Scored as a trained item would be: mean + b_u + b_i + p_u·q_i.
    const out = new Float32Array(1);
    member.scoreFolded(users[0], row, out);
    let direct = 3.6 + params.users[users[0] * (k + 1) + k] + row[k];
    for (let f = 0; f < k; f++) direct += params.users[users[0] * (k + 1) + f] * row[f];
    expect(out[0]).toBeCloseTo(direct, 4);
    // All ratings equal: still a finite row.
    for (const v of await member.foldInItem(users, new Float32Array(n).fill(4))) expect(Number.isFinite(v)).toBe(true);
  });

  test("I-AutoRec: a new item's code is the encoder's output for its ratings, the code training gives it", async () => {
    const addon = loadAutorecNative()!;
    const rng = new Rng(8);
    const nUsers = 25;
    const nItems = 6;
    const H = 7;
    const weights = {
      nUsers,
      nItems,
      hidden: H,
      W: Float32Array.from({ length: nUsers * H }, () => rng.normal() * 0.3),
      b: Float32Array.from({ length: H }, () => rng.normal() * 0.1),
      V: Float32Array.from({ length: nUsers * H }, () => rng.normal() * 0.3),
      c: Float32Array.from({ length: nUsers }, () => 3 + rng.normal() * 0.1),
    };
    // Item i is rated by every user u with (u + i) % 3 === 0.
    const start = new Int32Array(nItems + 1);
    const us: number[] = [];
    const rs: number[] = [];
    for (let i = 0; i < nItems; i++) {
      for (let u = 0; u < nUsers; u++) {
        if ((u + i) % 3 !== 0) continue;
        us.push(u);
        rs.push(1 + Math.floor(rng.next() * 5));
      }
      start[i + 1] = us.length;
    }
    const byItem = { start, users: Int32Array.from(us), ratings: Float32Array.from(rs) };
    const codes = addon.autorecCodes(weights, byItem);
    const member = new AutorecMember(
      { nUsers, nItems, hidden: H, V: weights.V, c: weights.c, codes, encW: weights.W, encB: weights.b },
      { lambda: 1, hidden: H },
    );
    const tf = loadTf();
    for (let i = 0; i < nItems; i++) {
      const users = byItem.users.subarray(start[i], start[i + 1]);
      const ratings = byItem.ratings.subarray(start[i], start[i + 1]);
      const row = await member.foldInItem(users, ratings);
      expect(row).toHaveLength(member.itemRowWidth);
      // The kernel's training code of the item, and the dense reference sigmoid(r W + b).
      for (let k = 0; k < H; k++) expect(row[k]).toBeCloseTo(codes[i * H + k], 5);
      const dense = new Float32Array(nUsers);
      users.forEach((u, j) => (dense[u] = ratings[j]));
      const ref = tf.tidy(() =>
        tf.sigmoid(tf.add(tf.matMul(tf.tensor2d(dense, [1, nUsers]), tf.tensor2d(weights.W, [nUsers, H])), tf.tensor1d(weights.b))).dataSync(),
      );
      for (let k = 0; k < H; k++) expect(row[k]).toBeCloseTo(ref[k], 5);
      // The decoder scores it for a user as it scores the trained item.
      const out = new Float32Array(1);
      member.scoreFolded(4, row, out);
      expect(out[0]).toBeCloseTo(member.predict(new Int32Array([4]), new Int32Array([i]))[0], 4);
    }
    // A checkpoint saved without the encoder cannot fold items in: the caller falls back.
    const old = new AutorecMember({ nUsers, nItems, hidden: H, V: weights.V, c: weights.c, codes }, { lambda: 1, hidden: H });
    await expect(old.foldInItem(new Int32Array([1]), new Float32Array([4]))).rejects.toBeInstanceOf(FoldInUnavailableError);
  });

  test("NNMF: item fold-in lowers the item's training objective to a stationary point, and stays finite when all ratings are equal", async () => {
    const addon = loadNative()!;
    const p = initParams({ nUsers: 40, nItems: 1, d: 3, dp: 5, h1: 8, h2: 8, h3: 8, useBias: true }, 6, 0.5);
    const rng = new Rng(11);
    const users = Int32Array.from({ length: 28 }, (_, k) => k);
    const ratings = Float32Array.from(users, () => 1 + Math.floor(rng.next() * 5));
    const lambda = 0.5;
    const objective = (row: Float32Array) => {
      const y = addon.predict({ ...p, items: row }, users, new Int32Array(users.length));
      let s = 0;
      for (let k = 0; k < users.length; k++) s += (y[k] - ratings[k]) ** 2;
      return s + lambda * row.reduce((a, v) => a + v * v, 0);
    };
    const start = new Float32Array(p.items);
    const row = start.slice();
    const res = await addon.foldInItem(p, users, ratings, row, { lambda, lr: 0.05, steps: 400 });
    expectMinimum(objective, start, row, res.loss);
    // Through the member, with its default number of steps: lower than the mean item row, finite on equal ratings.
    const member = new NnmfMember(p, { lambda }, selectEngine('native'));
    const folded = await member.foldInItem(users, ratings);
    expect(objective(folded)).toBeLessThan(objective(start));
    const flat = await member.foldInItem(users, new Float32Array(users.length).fill(3));
    for (const v of flat) expect(Number.isFinite(v)).toBe(true);
    const out = new Float32Array(2);
    member.scoreFolded(3, Float32Array.from([...flat, ...folded]), out);
    expect(out[0]).toBeCloseTo(addon.predict({ ...p, items: flat }, new Int32Array([3]), new Int32Array([0]))[0], 4);
    expect(out[1]).toBeCloseTo(addon.predict({ ...p, items: folded }, new Int32Array([3]), new Int32Array([0]))[0], 4);
  });
});

describe('attribute filters', () => {
  test('parse conditions joined by ";" with alternatives joined by ","', () => {
    expect(parseFilter('genre:Comedy,Drama;year:1995')).toEqual([
      { attribute: 'genre', values: ['Comedy', 'Drama'] },
      { attribute: 'year', values: ['1995'] },
    ]);
    for (const bad of ['genre', ':Comedy', 'genre:', ';', 'a:1;b']) expect(() => parseFilter(bad)).toThrow();
  });
});
