import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { appsClosedAfterEach, postJson, tempDataDir } from './helpers/app';
import { FAST_TRAINING, importSynthetic, trainModel } from './helpers/training';
import { syntheticRatings } from './helpers/synthetic';

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
