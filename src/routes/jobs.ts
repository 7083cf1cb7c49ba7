import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifySchemaValidationError } from 'fastify';
import { misplacedSettingsError } from '../engine/job-settings';
import { AppError } from '../errors';
import { IdParam, responses } from '../schemas/common';
import { JobCreateBody, JobCreated, JobList, JobListQuery, JobSchema } from '../schemas/serving';

const jobs: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Queue a training job; one runs at a time',
        operationId: 'createJob',
        description:
          "Answers 202 with the job's ID at once; poll GET /jobs/{id} for progress. The job trains on a snapshot of the ratings as they are when it starts, with params overriding the default settings. Its model becomes active when its RMSE on its held-out ratings is at least as good as the active model's.",
        body: JobCreateBody,
        response: responses({ 202: JobCreated }, [413, 415, 429]),
      },
      // A refused body is looked at here first, to say where another kind's settings go.
      attachValidation: true,
    },
    async (request, reply) => {
      const invalid = request.validationError;
      if (invalid) {
        const found = (invalid.validation ?? []) as FastifySchemaValidationError[];
        throw (
          misplacedSettingsError(
            request.body,
            found.map((v) => v.instancePath),
          ) ?? invalid
        );
      }
      const body = request.body;
      const job = app.runner.enqueue(body.model ? { ...body.params, model: body.model } : (body.params ?? {}));
      return reply.status(202).send({ id: job.id, status: 'queued' });
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Jobs, newest first',
        operationId: 'listJobs',
        description: 'Training jobs with their status and progress, newest first, optionally only those of one status.',
        querystring: JobListQuery,
        response: responses({ 200: JobList }),
      },
    },
    async (request) => {
      const q = request.query;
      return { jobs: app.jobs.list(q.status ?? null, q.limit ?? 50, q.offset ?? 0) };
    },
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'One job with its progress',
        operationId: 'getJob',
        description:
          'Status; progress (epoch, losses, validation RMSE, elapsed time, estimate of the time left); the model it produced and the activation decision.',
        params: IdParam,
        response: responses({ 200: JobSchema }, [404]),
      },
    },
    async (request) => {
      const { id } = request.params;
      const job = app.jobs.get(id);
      if (!job) throw new AppError('JOB_NOT_FOUND', `job ${id} not found`);
      return job;
    },
  );

  app.post(
    '/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued or running job',
        operationId: 'cancelJob',
        description:
          'A queued job is dropped; a running one stops between minibatches. Answers the job once it has stopped; 409 (RECO_ERR_JOB_NOT_CANCELLABLE) when it had already finished.',
        params: IdParam,
        response: responses({ 200: JobSchema }, [404, 409]),
      },
    },
    async (request) => {
      const { id } = request.params;
      const job = app.runner.cancel(id);
      if (!job) throw new AppError('JOB_NOT_FOUND', `job ${id} not found`);
      await app.runner.settled(id);
      return app.jobs.get(id);
    },
  );
};

export default jobs;
