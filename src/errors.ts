import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';

/** Every error the API can answer with. Codes are part of the public contract: never rename one. */
export const ErrorCodes = {
  VALIDATION: { code: 'RECO_ERR_VALIDATION', status: 400 },
  INVALID_RATING: { code: 'RECO_ERR_INVALID_RATING', status: 400 },
  INVALID_ID: { code: 'RECO_ERR_INVALID_ID', status: 400 },
  BATCH_TOO_LARGE: { code: 'RECO_ERR_BATCH_TOO_LARGE', status: 400 },
  EMPTY_BODY: { code: 'RECO_ERR_EMPTY_BODY', status: 400 },
  MALFORMED_JSON: { code: 'RECO_ERR_MALFORMED_JSON', status: 400 },
  IMPORT_REJECTED: { code: 'RECO_ERR_IMPORT_REJECTED', status: 400 },
  UNAUTHORIZED: { code: 'RECO_ERR_UNAUTHORIZED', status: 401 },
  NOT_FOUND: { code: 'RECO_ERR_NOT_FOUND', status: 404 },
  USER_NOT_FOUND: { code: 'RECO_ERR_USER_NOT_FOUND', status: 404 },
  ITEM_NOT_FOUND: { code: 'RECO_ERR_ITEM_NOT_FOUND', status: 404 },
  RATING_NOT_FOUND: { code: 'RECO_ERR_RATING_NOT_FOUND', status: 404 },
  JOB_NOT_FOUND: { code: 'RECO_ERR_JOB_NOT_FOUND', status: 404 },
  MODEL_NOT_FOUND: { code: 'RECO_ERR_MODEL_NOT_FOUND', status: 404 },
  METHOD_NOT_ALLOWED: { code: 'RECO_ERR_METHOD_NOT_ALLOWED', status: 405 },
  JOB_NOT_CANCELLABLE: { code: 'RECO_ERR_JOB_NOT_CANCELLABLE', status: 409 },
  MODEL_BROKEN: { code: 'RECO_ERR_MODEL_BROKEN', status: 409 },
  BODY_TOO_LARGE: { code: 'RECO_ERR_BODY_TOO_LARGE', status: 413 },
  UNSUPPORTED_MEDIA_TYPE: { code: 'RECO_ERR_UNSUPPORTED_MEDIA_TYPE', status: 415 },
  RATE_LIMITED: { code: 'RECO_ERR_RATE_LIMITED', status: 429 },
  QUEUE_FULL: { code: 'RECO_ERR_QUEUE_FULL', status: 429 },
  INTERNAL: { code: 'RECO_ERR_INTERNAL', status: 500 },
  NO_MODEL: { code: 'RECO_ERR_NO_MODEL', status: 503 },
  NOT_READY: { code: 'RECO_ERR_NOT_READY', status: 503 },
} as const;

export type ErrorKind = keyof typeof ErrorCodes;

export class AppError extends Error {
  readonly statusCode: number;
  readonly code: string;
  constructor(kind: ErrorKind, message: string, readonly details?: unknown) {
    super(message);
    this.statusCode = ErrorCodes[kind].status;
    this.code = ErrorCodes[kind].code;
  }
}

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  details?: unknown;
}

export function errorBody(statusCode: number, code: string, message: string, details?: unknown): ErrorBody {
  const body: ErrorBody = { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
  if (details !== undefined) body.details = details;
  return body;
}

/** Maps Fastify's own error codes onto the catalogue so clients see one vocabulary. */
function fromFastify(err: FastifyError): { kind: ErrorKind; message: string } | null {
  switch (err.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { kind: 'EMPTY_BODY', message: 'request body is empty' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { kind: 'MALFORMED_JSON', message: 'request body is not valid JSON' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { kind: 'BODY_TOO_LARGE', message: 'request body is larger than the configured limit' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { kind: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported content type' };
    default:
      break;
  }
  if (err instanceof SyntaxError && err.statusCode === 400) {
    return { kind: 'MALFORMED_JSON', message: 'request body is not valid JSON' };
  }
  return null;
}

export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof AppError) {
    if (err.statusCode >= 500) request.log.error({ err }, 'request failed');
    void reply.status(err.statusCode).send(errorBody(err.statusCode, err.code, err.message, err.details));
    return;
  }
  if (err.validation) {
    const message = `${err.validationContext ?? 'request'}${err.message.replace(/^(body|querystring|params|headers)/, '')}`;
    void reply.status(400).send(errorBody(400, ErrorCodes.VALIDATION.code, message));
    return;
  }
  const mapped = fromFastify(err);
  if (mapped) {
    const { status, code } = ErrorCodes[mapped.kind];
    void reply.status(status).send(errorBody(status, code, mapped.message));
    return;
  }
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  if (status < 500) {
    void reply.status(status).send(errorBody(status, ErrorCodes.VALIDATION.code, err.message));
    return;
  }
  // Internal details (SQL text, stacks) stay in the log; the client gets the request id to quote.
  request.log.error({ err }, 'unhandled error');
  void reply
    .status(500)
    .send(errorBody(500, ErrorCodes.INTERNAL.code, `internal error (request id ${request.id})`));
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply
    .status(404)
    .send(errorBody(404, ErrorCodes.NOT_FOUND.code, `route ${request.method} ${request.url.split('?')[0]} not found`));
}
