import type { FastifyInstance } from 'fastify';
import { postJson } from './app';
import { syntheticRatings } from './synthetic';

/** Small settings so that a test trains in about a second. */
export const FAST_TRAINING = { d: 4, dp: 8, hidden: [16, 16, 16], lambda: 2, lr: 1e-2, maxEpochs: 12, patience: 12, lrDecay: 1, averaging: 0 };

export async function importSynthetic(app: FastifyInstance, triples = syntheticRatings(120, 80, 25)): Promise<void> {
  const rows = triples.map(([userId, itemId, rating]) => ({ userId, itemId, rating }));
  for (let k = 0; k < rows.length; k += 5000) {
    const res = await postJson(app, '/ratings', rows.slice(k, k + 5000));
    if (res.statusCode !== 200) throw new Error(`import failed: ${res.body}`);
  }
}

export async function waitForJob(app: FastifyInstance, id: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const job = (await app.inject({ url: `/jobs/${id}` })).json();
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    if (Date.now() > end) throw new Error(`job ${id} still ${job.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs a job to its end; `model` among the params goes to the body's top level, where the API takes it. */
export async function trainModel(app: FastifyInstance, params: Record<string, unknown> = FAST_TRAINING): Promise<Record<string, any>> {
  const { model, ...rest } = params;
  const res = await postJson(app, '/jobs', { type: 'train', ...(model ? { model } : {}), params: rest });
  if (res.statusCode !== 202) throw new Error(`job not accepted: ${res.body}`);
  return waitForJob(app, res.json().id);
}
