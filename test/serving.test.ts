import type { FastifyInstance } from 'fastify';
import { JobsRepository } from '../src/jobs/jobs-repository';
import { RetrainScheduler } from '../src/jobs/scheduler';
import { openDatabase } from '../src/db/open';
import { postJson, tempDataDir, testApp } from './helpers/app';
import { FAST_TRAINING, importSynthetic, trainModel, waitForJob } from './helpers/training';
import { syntheticRatings } from './helpers/synthetic';

const all = syntheticRatings(150, 90, 30, 11);
// Every 10th rating is never stored: the model is judged on pairs it has not seen.
const heldOut = all.filter((_, k) => k % 10 === 0);
const stored = all.filter((_, k) => k % 10 !== 0);

describe('training jobs and serving, end to end over HTTP', () => {
  let app: FastifyInstance;
  let dataDir: string;
  let first: Record<string, any>;

  beforeAll(async () => {
    dataDir = tempDataDir();
    app = await testApp({}, dataDir);
  });
  afterAll(async () => {
    await app.close();
  });

  test('predict answers 503 with its own code before any model exists', async () => {
    const res = await postJson(app, '/predict', { userId: 'u1', itemId: 'i1' });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('RECO_ERR_NO_MODEL');
  });

  test('a training job runs to success and its model becomes active', async () => {
    await importSynthetic(app, stored);
    const res = await postJson(app, '/jobs', { type: 'train', params: FAST_TRAINING });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ id: expect.any(String), status: 'queued' });
    first = await waitForJob(app, res.json().id);
    expect(first.status).toBe('succeeded');
    expect(first.modelId).toMatch(/^mdl_/);
    expect(first.progress.epoch).toBeGreaterThan(0);
    // The default ensemble: every member's epochs, one after the other, and its report.
    const members = first.progress.members as { kind: string; epochs: number }[];
    expect(members.map((m) => m.kind).sort()).toEqual(['autorec', 'mf', 'nnmf']);
    expect(first.progress.history.length).toBe(members.reduce((s, m) => s + m.epochs, 0));
    expect(Object.keys(first.report.members).sort()).toEqual(['autorec', 'mf', 'nnmf']);
    expect(first.report.blend.rmse).toBeLessThan(first.report.baselines.globalMean.rmse);
    expect(first.decision).toMatchObject({ activated: true, reason: 'no active model' });
    const model = (await app.inject({ url: `/models/${first.modelId}` })).json();
    expect(model.active).toBe(true);
    expect(model.metrics.evaluationRmse).toBeGreaterThan(0);
    expect(model.fingerprint).toMatch(/^ms1:/);
  });

  test('predictions are on the scale and beat the global mean on held-out pairs', async () => {
    const res = await postJson(app, '/predict', { pairs: heldOut.map(([userId, itemId]) => ({ userId, itemId })) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.modelId).toBe(first.modelId);
    const mean = stored.reduce((s, r) => s + r[2], 0) / stored.length;
    let seModel = 0;
    let seMean = 0;
    body.predictions.forEach((p: { rating: number; fallback: string | null }, k: number) => {
      expect(p.rating).toBeGreaterThanOrEqual(1);
      expect(p.rating).toBeLessThanOrEqual(5);
      seModel += (p.rating - heldOut[k][2]) ** 2;
      seMean += (mean - heldOut[k][2]) ** 2;
    });
    expect(Math.sqrt(seModel / heldOut.length)).toBeLessThan(0.85 * Math.sqrt(seMean / heldOut.length));
  });

  test('unknown users and items get fallbacks, not errors', async () => {
    const res = await postJson(app, '/predict', {
      pairs: [
        { userId: 'u1', itemId: 'i1' },
        { userId: 'newcomer', itemId: 'i1' },
        { userId: 'u1', itemId: 'brand-new' },
        { userId: 'newcomer', itemId: 'brand-new' },
      ],
    });
    expect(res.json().predictions.map((p: { fallback: unknown }) => p.fallback)).toEqual([null, 'item_mean', 'user_mean', 'global_mean']);
  });

  test('recommendations leave out rated and excluded items; unknown users get popular items', async () => {
    const rated = new Set(stored.filter((r) => r[0] === 'u3').map((r) => r[1]));
    const res = await app.inject({ url: '/users/u3/recommendations?n=15&exclude=i7,i8' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.fallback).toBeNull();
    expect(body.items).toHaveLength(15);
    for (const it of body.items) {
      expect(rated.has(it.itemId)).toBe(false);
      expect(['i7', 'i8']).not.toContain(it.itemId);
    }
    // Ratings stored after training count at once.
    await postJson(app, '/ratings', { userId: 'u3', itemId: body.items[0].itemId, rating: 2 });
    const again = (await app.inject({ url: '/users/u3/recommendations?n=15' })).json();
    expect(again.items.map((i: { itemId: string }) => i.itemId)).not.toContain(body.items[0].itemId);
    const withRated = (await app.inject({ url: '/users/u3/recommendations?n=200&excludeRated=false' })).json();
    expect(withRated.items.length).toBe(90);
    const stranger = (await app.inject({ url: '/users/stranger/recommendations?n=5' })).json();
    expect(stranger.fallback).toBe('popular');
    expect(stranger.items).toHaveLength(5);
    const rerank = (await postJson(app, '/users/u3/recommendations', { candidates: ['i1', 'i2', 'i3', 'nope', 'i2'], n: 10 })).json();
    expect(rerank.items.map((i: { itemId: string }) => i.itemId).sort()).toEqual(['i1', 'i2', 'i3', 'nope']);
    const ratedByU3 = stored.find((r) => r[0] === 'u3')![1];
    const rerankUnrated = (await postJson(app, '/users/u3/recommendations', { candidates: [ratedByU3, 'i1', 'nope'], excludeRated: true })).json();
    expect(rerankUnrated.items.map((i: { itemId: string }) => i.itemId)).not.toContain(ratedByU3);
    expect(rerankUnrated.items.map((i: { itemId: string }) => i.itemId)).toContain('nope');
    const similar = (await app.inject({ url: '/items/i1/similar?n=5' })).json();
    expect(similar.items).toHaveLength(5);
    expect(similar.items.map((i: { itemId: string }) => i.itemId)).not.toContain('i1');
  });

  test('a second model, rollback by activation, and swaps that fail no request', async () => {
    const second = await trainModel(app, { ...FAST_TRAINING, seed: 2, maxEpochs: 3 });
    expect(second.status).toBe('succeeded');
    expect(second.decision).toHaveProperty('newModelRmse');
    expect(second.decision).toHaveProperty('activeModelRmse');
    const ids = [first.modelId, second.modelId];
    const activate = async (id: string) => {
      const r = await app.inject({ method: 'POST', url: `/models/${id}/activate` });
      expect(r.statusCode).toBe(200);
    };
    await activate(ids[1]);
    expect((await postJson(app, '/predict', { userId: 'u1', itemId: 'i1' })).json().modelId).toBe(ids[1]);
    await activate(ids[0]);
    expect((await postJson(app, '/predict', { userId: 'u1', itemId: 'i1' })).json().modelId).toBe(ids[0]);
    const list = (await app.inject({ url: '/models' })).json().models;
    expect(list.filter((m: { active: boolean }) => m.active).map((m: { id: string }) => m.id)).toEqual([ids[0]]);

    // Each model's answers with no swap going on: an answer given during swaps must be one of these, whole.
    const recsUrl = '/users/u1/recommendations?n=5';
    const reference = new Map<string, string>();
    for (const id of [ids[1], ids[0]]) {
      await activate(id);
      reference.set(id, JSON.stringify((await app.inject({ url: recsUrl })).json().items));
    }
    expect(reference.get(ids[0])).not.toEqual(reference.get(ids[1]));

    const requests: Promise<{ statusCode: number; modelId: string }>[] = [];
    const recs: Promise<{ statusCode: number; modelId: string; items: string }>[] = [];
    const swaps: Promise<void>[] = [];
    for (let k = 0; k < 40; k++) {
      requests.push(
        postJson(app, '/predict', {
          pairs: [
            { userId: 'u1', itemId: 'i1' },
            { userId: 'u2', itemId: 'i3' },
          ],
        }).then((r) => ({ statusCode: r.statusCode, modelId: r.json().modelId })),
      );
      // Recommendations score the catalogue off the JavaScript thread, so swaps land while they are in flight.
      recs.push(
        app.inject({ url: recsUrl }).then((r) => ({ statusCode: r.statusCode, modelId: r.json().modelId, items: JSON.stringify(r.json().items) })),
      );
      if (k % 4 === 0) swaps.push(activate(ids[k % 8 === 0 ? 1 : 0]));
      // Every eighth request waits for the swaps so far, so that both models answer some.
      if (k % 8 === 7) await Promise.all(swaps);
    }
    const results = await Promise.all(requests);
    const recResults = await Promise.all(recs);
    await Promise.all(swaps);
    expect(results.every((r) => r.statusCode === 200 && ids.includes(r.modelId))).toBe(true);
    for (const r of recResults) {
      expect(r.statusCode).toBe(200);
      expect(r.items).toBe(reference.get(r.modelId));
    }
    expect(new Set(recResults.map((r) => r.modelId)).size).toBe(2);
  });

  test('jobs queue one behind another, and cancelling works for queued and running jobs', async () => {
    const a = (await postJson(app, '/jobs', { type: 'train', params: { ...FAST_TRAINING, maxEpochs: 100000, patience: 10000 } })).json();
    expect(a.status).toBe('queued');
    const b = (await postJson(app, '/jobs', { type: 'train', params: FAST_TRAINING })).json();
    const deadline = Date.now() + 30_000;
    for (;;) {
      expect(Date.now()).toBeLessThan(deadline);
      const ja = (await app.inject({ url: `/jobs/${a.id}` })).json();
      if (ja.status === 'running' && ja.progress?.epoch > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await app.inject({ url: `/jobs/${b.id}` })).json().status).toBe('queued');
    const queued = await app.inject({ url: '/jobs?status=queued' });
    expect(queued.json().jobs.map((j: { id: string }) => j.id)).toEqual([b.id]);
    const cb = await app.inject({ method: 'POST', url: `/jobs/${b.id}/cancel` });
    expect(cb.json().status).toBe('cancelled');
    const ca = await app.inject({ method: 'POST', url: `/jobs/${a.id}/cancel` });
    expect(ca.statusCode).toBe(200);
    expect(ca.json().status).toBe('cancelled');
    expect(ca.json().modelId).toBeNull();
    const again = await app.inject({ method: 'POST', url: `/jobs/${a.id}/cancel` });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('RECO_ERR_JOB_NOT_CANCELLABLE');
  });

  test('metrics report jobs and the active model', async () => {
    const text = (await app.inject({ url: '/metrics' })).body;
    expect(text).toMatch(/active_model_test_rmse \d/);
    expect(text).toMatch(/store_entities\{kind="ratings"\}/);
  });

  test('a new app on the same data folder serves the same predictions', async () => {
    const pairs = heldOut.slice(0, 50).map(([userId, itemId]) => ({ userId, itemId }));
    const before = (await postJson(app, '/predict', { pairs })).json();
    await app.close();
    // Last in this block: the app opened here is closed when this test ends.
    app = await testApp({}, dataDir);
    const after = (await postJson(app, '/predict', { pairs })).json();
    expect(after).toEqual(before);
  });
});

describe('restarts and scheduling', () => {
  test('a job left running by a dead process is failed as interrupted, and the queue goes on', async () => {
    const dataDir = tempDataDir();
    const db = openDatabase(dataDir);
    const jobs = new JobsRepository(db);
    const stale = jobs.create({});
    jobs.start(stale.id);
    db.close();
    const app = await testApp({}, dataDir);
    await importSynthetic(app);
    const job = app.jobs.get(stale.id)!;
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/interrupted/);
    const next = await trainModel(app);
    expect(next.status).toBe('succeeded');
    await app.close();
  });

  test('shutting down interrupts a running job, which is then failed, while queued jobs wait for the next start', async () => {
    const dataDir = tempDataDir();
    const app = await testApp({}, dataDir);
    await importSynthetic(app);
    const long = (await postJson(app, '/jobs', { type: 'train', params: { ...FAST_TRAINING, maxEpochs: 100000, patience: 10000 } })).json();
    const queued = (await postJson(app, '/jobs', { type: 'train', params: FAST_TRAINING })).json();
    const deadline = Date.now() + 30_000;
    while (!(app.jobs.get(long.id)!.progress?.epoch ?? 0)) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 20));
    }
    await app.close();
    const db = openDatabase(dataDir);
    const jobs = new JobsRepository(db);
    expect(jobs.get(long.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted/) });
    expect(jobs.get(queued.id)!.status).toBe('queued');
    db.close();
    const again = await testApp({}, dataDir);
    expect((await waitForJob(again, queued.id)).status).toBe('succeeded');
    await again.close();
  });

  test('a job trains on a snapshot: ratings written meanwhile are kept and not mixed in', async () => {
    const app = await testApp();
    await importSynthetic(app);
    const res = await postJson(app, '/jobs', { type: 'train', params: { ...FAST_TRAINING, maxEpochs: 30, patience: 30 } });
    // Once the snapshot is read (the job's thread has moved on to training), later writes are not in it.
    const deadline = Date.now() + 30_000;
    while ((app.jobs.get(res.json().id)!.progress?.phase ?? 'snapshot') === 'snapshot') {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 10));
    }
    for (let k = 0; k < 20; k++) {
      const late = await postJson(app, '/ratings', { userId: `late-${k}`, itemId: 'i1', rating: 5 });
      expect(late.json()).toEqual({ inserted: 1, updated: 0 });
    }
    const job = await waitForJob(app, res.json().id);
    const model = app.models.get(job.modelId)!;
    expect((model.metrics.counts as { users: number }).users).toBe(120);
    expect(app.ratings.stats().users).toBe(140);
    await app.close();
  });

  test('the scheduler retrains only when ratings changed', async () => {
    const app = await testApp();
    await importSynthetic(app);
    const scheduler = new RetrainScheduler(60_000, {
      jobs: app.jobs,
      models: app.models,
      runner: app.runner,
      dataVersion: () => app.ratings.dataVersion(),
      log: app.log,
    });
    expect(scheduler.tick()).toBe('enqueued');
    expect(scheduler.tick()).toBe('busy');
    const id = app.jobs.list(null, 1, 0)[0].id;
    await waitForJob(app, id);
    expect(scheduler.tick()).toBe('unchanged');
    await postJson(app, '/ratings', { userId: 'u1', itemId: 'i1', rating: 1 });
    expect(scheduler.tick()).toBe('enqueued');
    await app.close();
  });

  test('an invalid RETRAIN_INTERVAL stops start-up with a message naming it', async () => {
    await expect(testApp({ RETRAIN_INTERVAL: 'soon' })).rejects.toThrow(/RETRAIN_INTERVAL/);
  });
});
