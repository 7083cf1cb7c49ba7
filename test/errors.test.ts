import Fastify, { type FastifyInstance } from 'fastify';
import { CheckpointError } from '../src/engine/checkpoint';
import { CodedError } from '../src/engine/coded-error';
import { EngineUnavailableError } from '../src/engine/engine';
import { ParamError } from '../src/engine/params';
import { AppError, createErrorHandler } from '../src/errors';
import { JobStateError, QueueFullError } from '../src/jobs/runner';
import { ModelNotFoundError } from '../src/serving/registry';

/** An error class whose code is not in the catalogue: a programming error, answered as a 500. */
class UncataloguedError extends CodedError {
  readonly code = 'RECO_ERR_NO_SUCH_ENTRY';
}

// Every domain error a request can meet, with the answer the one error handler gives it.
const domainErrors: [string, Error, number, string][] = [
  ['ParamError', new ParamError('training parameter d must be an integer 1..64'), 400, 'RECO_ERR_VALIDATION'],
  ['EngineUnavailableError', new EngineUnavailableError('native engine unavailable'), 400, 'RECO_ERR_VALIDATION'],
  ['QueueFullError', new QueueFullError('4 jobs are queued or running'), 429, 'RECO_ERR_QUEUE_FULL'],
  ['JobStateError', new JobStateError('job j1 is already succeeded'), 409, 'RECO_ERR_JOB_NOT_CANCELLABLE'],
  ['ModelNotFoundError', new ModelNotFoundError('model m1 not found'), 404, 'RECO_ERR_MODEL_NOT_FOUND'],
  ['CheckpointError', new CheckpointError('members/0-nnmf/weights.bin is missing'), 409, 'RECO_ERR_MODEL_BROKEN'],
  ['AppError', new AppError('NO_MODEL', 'no trained model yet'), 503, 'RECO_ERR_NO_MODEL'],
];

let app: FastifyInstance;
let thrown: Error;

beforeEach(async () => {
  app = Fastify({ logger: false });
  app.setErrorHandler(createErrorHandler({ discardBytes: 1024, idleMs: 1000 }));
  app.get('/throw', async () => {
    throw thrown;
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
});

describe('the error handler maps every domain error by its catalogue code', () => {
  test.each(domainErrors)('%s', async (_name, err, status, code) => {
    thrown = err;
    const res = await app.inject({ method: 'GET', url: '/throw' });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ statusCode: status, code, error: expect.any(String), message: err.message });
  });

  test('a code missing from the catalogue is a 500 that names only the request id', async () => {
    thrown = new UncataloguedError('secret detail');
    const res = await app.inject({ method: 'GET', url: '/throw' });
    expect(res.statusCode).toBe(500);
    expect(res.json().code).toBe('RECO_ERR_INTERNAL');
    expect(res.body).not.toContain('secret detail');
  });

  test('an error that is not a domain error stays a 500', async () => {
    thrown = new Error('SELECT * FROM ratings failed');
    const res = await app.inject({ method: 'GET', url: '/throw' });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('SELECT');
  });
});
