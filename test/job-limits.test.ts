import { appsClosedAfterEach, postJson } from './helpers/app';
import { FAST_TRAINING, importSynthetic, waitForJob } from './helpers/training';

describe('job limits', () => {
  const open = appsClosedAfterEach();

  test('the queue holds MAX_QUEUED_JOBS jobs; one more is refused with 429', async () => {
    const app = await open({ MAX_QUEUED_JOBS: '3' });
    await importSynthetic(app);
    const slow = { ...FAST_TRAINING, maxEpochs: 100_000, patience: 10_000 };
    const accepted = [];
    for (let k = 0; k < 3; k++) accepted.push(await postJson(app, '/jobs', { type: 'train', model: 'nnmf', params: slow }));
    expect(accepted.map((r) => r.statusCode)).toEqual([202, 202, 202]);
    const refused = await postJson(app, '/jobs', { type: 'train', model: 'nnmf', params: slow });
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ statusCode: 429, code: 'RECO_ERR_QUEUE_FULL', error: 'Too Many Requests' });
    // Room again once one has ended.
    const first = accepted[0].json().id;
    await app.inject({ method: 'POST', url: `/jobs/${first}/cancel` });
    expect((await postJson(app, '/jobs', { type: 'train', model: 'nnmf', params: slow })).statusCode).toBe(202);
    for (const j of (await app.inject({ url: '/jobs' })).json().jobs) await app.inject({ method: 'POST', url: `/jobs/${j.id}/cancel` });
  });

  test('settings that cannot be built or that need more memory than MAX_TRAIN_MEMORY are refused before queueing', async () => {
    const app = await open({ MAX_TRAIN_MEMORY: '300kb' });
    await importSynthetic(app);
    const zeroWidth = await postJson(app, '/jobs', { type: 'train', model: 'nnmf', params: { d: 64, dp: 0 } });
    expect(zeroWidth.statusCode).toBe(400);
    expect(zeroWidth.json().message).toMatch(/dp/);
    // NNMF's settings at the top level of another kind's job would set nothing: refused, saying where that kind's go.
    const misplaced = await postJson(app, '/jobs', { type: 'train', model: 'autorec', params: { lr: 0.01 } });
    expect(misplaced.statusCode).toBe(400);
    expect(misplaced.json()).toMatchObject({ code: 'RECO_ERR_VALIDATION' });
    expect(misplaced.json().message).toMatch(/params\.autorec/);
    // The same where the body's schema refuses the value first (NNMF's hidden is three widths): said, not "must be array".
    const width = await postJson(app, '/jobs', { type: 'train', model: 'autorec', params: { hidden: 300 } });
    expect(width.statusCode).toBe(400);
    expect(width.json()).toMatchObject({ statusCode: 400, code: 'RECO_ERR_VALIDATION', error: 'Bad Request' });
    expect(width.json().message).toMatch(/hidden .*NNMF's.*params\.autorec/);
    // Other refusals of the body keep the schema's own message.
    const other = await postJson(app, '/jobs', { type: 'train', model: 'autorec', params: { autorec: { hidden: 'wide' } } });
    expect(other.statusCode).toBe(400);
    expect(other.json().message).toMatch(/autorec\/hidden/);
    const nnmfJob = await postJson(app, '/jobs', { type: 'train', model: 'nnmf', params: { hidden: 300 } });
    expect(nnmfJob.json().message).toMatch(/params\/hidden must be array/);
    const big = await postJson(app, '/jobs', { type: 'train', model: 'nnmf', params: { d: 32, dp: 64 } });
    expect(big.statusCode).toBe(400);
    expect(big.json()).toMatchObject({ code: 'RECO_ERR_VALIDATION' });
    expect(big.json().message).toMatch(/MAX_TRAIN_MEMORY/);
    expect((await app.inject({ url: '/jobs' })).json().jobs).toHaveLength(0);
    const small = await postJson(app, '/jobs', { type: 'train', model: 'nnmf', params: FAST_TRAINING });
    expect(small.statusCode).toBe(202);
    await waitForJob(app, small.json().id);
  });

  test("a job's threads never exceed ENGINE_THREADS", async () => {
    const app = await open({ ENGINE_THREADS: '1' });
    await importSynthetic(app);
    const res = await postJson(app, '/jobs', { type: 'train', model: 'nnmf', params: { ...FAST_TRAINING, maxEpochs: 2, threads: 64 } });
    expect(res.statusCode).toBe(202);
    const job = await waitForJob(app, res.json().id);
    expect(job.status).toBe('succeeded');
    const model = (await app.inject({ url: `/models/${job.modelId}` })).json();
    expect(model.params.threads).toBe(64);
    expect(model.metrics.threads).toBe(1);
    // NNMF alone is two networks, named alike in the job's progress, the model's members and its report.
    const labels = ['nnmf', 'nnmf-2'];
    expect(job.progress.members.map((m: { label: string }) => m.label)).toEqual(labels);
    expect(model.metrics.members.map((m: { kind: string; label: string }) => [m.kind, m.label])).toEqual([
      ['nnmf', 'nnmf'],
      ['nnmf', 'nnmf-2'],
    ]);
    expect(Object.keys(model.metrics.evaluation.members)).toEqual(labels);
  });

  test('a job that reaches JOB_TIME_LIMIT is stopped and failed with the reason', async () => {
    const app = await open({ JOB_TIME_LIMIT: '1s' });
    await importSynthetic(app);
    const res = await postJson(app, '/jobs', { type: 'train', model: 'nnmf', params: { ...FAST_TRAINING, maxEpochs: 100_000, patience: 10_000 } });
    const job = await waitForJob(app, res.json().id, 30_000);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/time limit/);
    expect(new Date(job.finishedAt).getTime() - new Date(job.startedAt).getTime()).toBeLessThan(15_000);
  });
});
