import { postJson, tempDataDir, testApp } from './helpers/app';
import { syntheticRatings } from './helpers/synthetic';
import { importSynthetic, trainModel } from './helpers/training';

// ENGINE=tfjs trains with TF.js and serves through it, with no use of the native kernel: the set-up
// for a machine where the addon cannot be built.
describe('ENGINE=tfjs', () => {
  test('a small model is trained, activated and served through TF.js, and again after a restart', async () => {
    const dataDir = tempDataDir();
    const app = await testApp({ ENGINE: 'tfjs' }, dataDir);
    const triples = syntheticRatings(80, 50, 20);
    await importSynthetic(app, triples);
    const job = await trainModel(app);
    expect(job.status).toBe('succeeded');
    const model = (await app.inject({ url: `/models/${job.modelId}` })).json();
    expect(model).toMatchObject({ engine: 'tfjs', active: true });

    // It learned something: on its held-out ratings it beats always answering the mean rating.
    const mean = triples.reduce((s, t) => s + t[2], 0) / triples.length;
    const spread = Math.sqrt(triples.reduce((s, t) => s + (t[2] - mean) ** 2, 0) / triples.length);
    expect(model.metrics.evaluationRmse).toBeLessThan(spread);
    expect(model.metrics.members.map((m: { kind: string }) => m.kind)).toEqual(['nnmf']);

    const pairs = [
      { userId: 'u1', itemId: 'i1' },
      { userId: 'u2', itemId: 'i3' },
      { userId: 'nobody', itemId: 'i1' },
    ];
    const predicted = await postJson(app, '/predict', { pairs });
    expect(predicted.statusCode).toBe(200);
    expect(predicted.json().modelId).toBe(job.modelId);
    expect(predicted.json().predictions.map((p: { fallback: string | null }) => p.fallback)).toEqual([null, null, 'item_mean']);
    for (const p of predicted.json().predictions) expect(p.rating >= 1 && p.rating <= 5).toBe(true);

    const recs = await app.inject({ url: '/users/u1/recommendations?n=5' });
    expect(recs.statusCode).toBe(200);
    const items: { itemId: string; score: number }[] = recs.json().items;
    expect(recs.json().fallback).toBeNull();
    expect(items).toHaveLength(5);
    const rated = new Set(triples.filter((t) => t[0] === 'u1').map((t) => t[1]));
    expect(items.filter((i) => rated.has(i.itemId))).toEqual([]);
    for (let k = 1; k < items.length; k++) expect(items[k - 1].score).toBeGreaterThanOrEqual(items[k].score);

    const similar = await app.inject({ url: '/items/i1/similar?n=3' });
    expect(similar.statusCode).toBe(200);
    expect(similar.json().items.map((i: { itemId: string }) => i.itemId)).not.toContain('i1');

    // A restart loads the checkpoint through TF.js and serves the same numbers.
    await app.close();
    const again = await testApp({ ENGINE: 'tfjs' }, dataDir);
    expect((await postJson(again, '/predict', { pairs })).json()).toEqual(predicted.json());
  });
});
