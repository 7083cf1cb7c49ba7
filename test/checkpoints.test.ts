import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { appsClosedAfterEach, postJson, tempDataDir } from './helpers/app';
import { FAST_TRAINING, importSynthetic, trainModel } from './helpers/training';
import { syntheticRatings } from './helpers/synthetic';
import { cpuSeconds, healthWhile } from './helpers/threads';

const rows = syntheticRatings(100, 70, 25, 5);
const pairs = rows.slice(0, 200).map(([userId, itemId]) => ({ userId, itemId }));

async function answers(app: FastifyInstance) {
  const predict = (await postJson(app, '/predict', { pairs })).json();
  const recs = (await app.inject({ url: '/users/u4/recommendations?n=10' })).json();
  return { predict, recs };
}

/** Every file of a model's checkpoint whose name is `name`, wherever its member keeps it. */
function filesNamed(dir: string, name: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => path.basename(f) === name).map((f) => path.join(dir, f));
}

describe('checkpoints across restarts', () => {
  const openApp = appsClosedAfterEach();
  const open = (dataDir: string) => openApp({}, dataDir);

  test('the default model serves the same numbers after a restart', async () => {
    const dataDir = tempDataDir();
    let app = await open(dataDir);
    await importSynthetic(app, rows);
    const job = await trainModel(app, { ...FAST_TRAINING });
    expect(job.status).toBe('succeeded');
    const before = await answers(app);
    await app.close();
    app = await open(dataDir);
    expect(await answers(app)).toEqual(before);
    expect((await app.inject({ url: '/ready' })).json()).toEqual({ status: 'ready' });
  });

  test.each([
    ['weights replaced by random bytes of the same size', (f: string) => fs.writeFileSync(f, crypto.randomBytes(fs.statSync(f).size))],
    ['weights truncated', (f: string) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2))],
    ['weights missing', (f: string) => fs.rmSync(f)],
  ])('%s: the model is refused, marked broken, and the previous one is served', async (_name, damage) => {
    const dataDir = tempDataDir();
    let app = await open(dataDir);
    await importSynthetic(app, rows);
    const older = await trainModel(app, { ...FAST_TRAINING, model: 'nnmf' });
    const newer = await trainModel(app, { ...FAST_TRAINING, model: 'nnmf', evaluationFraction: 0.05 });
    expect(newer.decision.activated).toBe(true);
    await app.close();
    const weights = filesNamed(path.join(dataDir, 'models', newer.modelId), 'weights.bin');
    expect(weights.length).toBeGreaterThan(0);
    damage(weights[0]);

    app = await open(dataDir);
    const predicted = (await postJson(app, '/predict', { pairs })).json();
    expect(predicted.modelId).toBe(older.modelId);
    expect(predicted.predictions.every((p: { fallback: unknown }) => p.fallback === null)).toBe(true);
    const ready = (await app.inject({ url: '/ready' })).json();
    expect(ready.status).toBe('degraded');
    expect(ready.detail).toContain(newer.modelId);
    const models = (await app.inject({ url: '/models' })).json().models;
    const broken = models.find((m: { id: string }) => m.id === newer.modelId);
    expect(broken).toMatchObject({ active: false });
    expect(broken.broken).toEqual(expect.any(String));
    expect(models.find((m: { id: string }) => m.id === older.modelId)).toMatchObject({ active: true, broken: null });
    const activate = await app.inject({ method: 'POST', url: `/models/${newer.modelId}/activate` });
    expect(activate.statusCode).toBe(409);
    expect(activate.json().code).toBe('RECO_ERR_MODEL_BROKEN');
    // Activating a model that loads ends the degraded state.
    expect((await app.inject({ method: 'POST', url: `/models/${older.modelId}/activate` })).statusCode).toBe(200);
    expect((await app.inject({ url: '/ready' })).json()).toEqual({ status: 'ready' });
  });
});

describe('activation', () => {
  const open = appsClosedAfterEach();

  test('the checkpoint is read and verified off the request thread: /health is answered throughout, the thread does a small share of the work', async () => {
    const app = await open({});
    // I-AutoRec's checkpoint (a 500-unit encoder and decoder per user, 24 MB here) takes several
    // times longer to read, hash and parse than the request thread's share of an activation,
    // which builds the ID indexes and borrows the weights.
    await importSynthetic(app, syntheticRatings(6000, 600, 25, 3));
    const settings = { model: 'autorec', maxEpochs: 2, validationFraction: 0.01, evaluationFraction: 0.01 };
    const a = await trainModel(app, settings);
    const b = await trainModel(app, { ...settings, seed: 7 });
    expect([a.status, b.status]).toEqual(['succeeded', 'succeeded']);
    let slowest = 0;
    let shortest = Infinity;
    let probes = 0;
    const [thread0, process0] = [cpuSeconds('thread-self'), cpuSeconds('self')];
    for (const id of [a.modelId, b.modelId, a.modelId, b.modelId]) {
      const t = performance.now();
      const done = app.inject({ method: 'POST', url: `/models/${id}/activate` });
      const health = await healthWhile(app, done);
      const res = await done;
      shortest = Math.min(shortest, performance.now() - t);
      expect(res.statusCode).toBe(200);
      expect((await postJson(app, '/predict', { pairs: [{ userId: 'u1', itemId: 'i1' }] })).json().modelId).toBe(id);
      slowest = Math.max(slowest, health.maxMs);
      probes += health.count;
    }
    const [thread1, process1] = [cpuSeconds('thread-self'), cpuSeconds('self')];
    // Ratios within this run. Read, hashed and parsed on the request thread, a checkpoint held
    // it for most of an activation and took most of the CPU time (measured with a smaller NNMF
    // checkpoint: the slowest /health took 0.9 of the shortest activation, and the request thread
    // 0.8 of the CPU time); now a loading thread does that and the request thread builds the
    // predictor from the weights it hands back (with this checkpoint the slowest /health takes
    // 0.02-0.04 of the shortest activation).
    expect(probes).toBeGreaterThanOrEqual(4);
    expect(slowest).toBeLessThan(shortest / 2);
    if (thread0 !== null && thread1 !== null && process0 !== null && process1 !== null) {
      expect(thread1 - thread0).toBeLessThan(0.5 * (process1 - process0));
    }
  });
});
