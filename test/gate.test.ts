import type { FastifyInstance } from 'fastify';
import { bucketOf, DEFAULT_BUCKETS } from '../src/engine/buckets';
import { appsClosedAfterEach, postJson } from './helpers/app';
import { FAST_TRAINING, importSynthetic, trainModel } from './helpers/training';
import { syntheticRatings } from './helpers/synthetic';

const all = syntheticRatings(160, 100, 35, 21);
// Never stored: the truth about which model is better.
const unseen = all.filter((_, k) => k % 10 === 0);
const stored = all.filter((_, k) => k % 10 !== 0);
const firstPart = stored.filter((_, k) => k % 2 === 0);
const secondPart = stored.filter((_, k) => k % 2 === 1);

async function rmseOn(app: FastifyInstance, rows: [string, string, number][]): Promise<{ rmse: number; modelId: string }> {
  const res = await postJson(app, '/predict', { pairs: rows.map(([userId, itemId]) => ({ userId, itemId })) });
  const body = res.json();
  let se = 0;
  body.predictions.forEach((p: { rating: number }, k: number) => (se += (p.rating - rows[k][2]) ** 2));
  return { rmse: Math.sqrt(se / rows.length), modelId: body.modelId };
}

describe('promotion gate', () => {
  const open = appsClosedAfterEach();

  test('a worse model is refused on the evaluation bucket, and both figures are kept', async () => {
    const app = await open({});
    await importSynthetic(app, stored);
    const good = await trainModel(app, { ...FAST_TRAINING, model: 'nnmf' });
    expect(good.decision).toMatchObject({ activated: true, reason: 'no active model' });
    // One epoch at a tiny learning rate: barely better than the global mean.
    const bad = await trainModel(app, { ...FAST_TRAINING, model: 'nnmf', maxEpochs: 1, lr: 1e-5, seed: 3 });
    expect(bad.status).toBe('succeeded');
    expect(bad.decision).toMatchObject({ activated: false, fair: true, activeModelId: good.modelId });
    expect(bad.decision.newModelRmse).toBeGreaterThan(bad.decision.activeModelRmse);
    expect(bad.decision.evaluationCount).toBe(bad.report.count);
    expect((await rmseOn(app, unseen)).modelId).toBe(good.modelId);
    const models = (await app.inject({ url: '/models' })).json().models;
    expect(models.find((m: { id: string }) => m.id === bad.modelId).active).toBe(false);
  });

  test('the active model never trained on the evaluation ratings it is judged on, however the data grew', async () => {
    const app = await open({});
    await importSynthetic(app, firstPart);
    const a = await trainModel(app, { ...FAST_TRAINING, model: 'nnmf', maxEpochs: 4 });
    const aUnseen = (await rmseOn(app, unseen)).rmse;
    await importSynthetic(app, secondPart);
    const b = await trainModel(app, { ...FAST_TRAINING, model: 'nnmf' });
    const bUnseen = (await rmseOn(app, unseen)).rmse;
    // The pairs judged on are the evaluation bucket of all the data now stored; none of them was
    // in the active model's training or validation ratings, whenever it was trained.
    const evaluation = stored.filter(([u, i]) => bucketOf(u, i, DEFAULT_BUCKETS) === 'evaluation');
    expect(b.decision.evaluationCount).toBe(evaluation.length);
    expect(b.decision).toMatchObject({ fair: true, activeModelId: a.modelId, activated: true });
    expect(bUnseen).toBeLessThan(aUnseen);
  });

  test('leaky case: a model trained on the evaluation ratings looks better on them, yet the better model is served', async () => {
    const app = await open({});
    await importSynthetic(app, firstPart);
    // Trained with no evaluation bucket (as before buckets existed): it learnt the ratings a
    // later job holds out, with little regularisation, so it fits them closely.
    const roomy = { ...FAST_TRAINING, model: 'nnmf', d: 8, dp: 32, hidden: [32, 32, 32], maxEpochs: 30, patience: 30 };
    const leaky = await trainModel(app, { ...roomy, evaluationFraction: 0, lambda: 0.01 });
    // The first part's evaluation ratings: the leaky model trained on them, the next one will not.
    const heldBack = firstPart.filter(([u, i]) => bucketOf(u, i, DEFAULT_BUCKETS) === 'evaluation');
    const leakyOnSeen = (await rmseOn(app, heldBack)).rmse;
    const leakyUnseen = (await rmseOn(app, unseen)).rmse;
    await importSynthetic(app, secondPart);
    const fresh = await trainModel(app, roomy);
    const freshOnHeldBack = (await rmseOn(app, heldBack)).rmse;
    const freshUnseen = (await rmseOn(app, unseen)).rmse;
    // The new model is better on ratings neither has seen...
    expect(freshUnseen).toBeLessThan(leakyUnseen);
    // ...but on ratings the leaky model trained on it looks better: a gate that trusted those
    // figures would have kept it.
    expect(leakyOnSeen).toBeLessThan(freshOnHeldBack);
    expect(fresh.decision).toMatchObject({ activated: true, fair: false, activeModelId: leaky.modelId });
    expect(fresh.decision.reason).toMatch(/another held-out scheme/);
  });
});
