import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { CodedError } from './engine/coded-error';
import { ID_FORMAT } from './ratings/validate';
import { BodyTimeoutError, ClientAbortError, discardBody } from './writer/body-reader';
import { importSummaryOf, WriteError } from './writer/client';

/** Every error the API can answer with. Codes are part of the public contract: never rename one. */
export const ErrorCodes = {
  VALIDATION: { code: 'RECO_ERR_VALIDATION', status: 400 },
  INVALID_FILTER: { code: 'RECO_ERR_INVALID_FILTER', status: 400 },
  BAD_REQUEST: { code: 'RECO_ERR_BAD_REQUEST', status: 400 },
  BAD_URL: { code: 'RECO_ERR_BAD_URL', status: 400 },
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
  REQUEST_TIMEOUT: { code: 'RECO_ERR_REQUEST_TIMEOUT', status: 408 },
  JOB_NOT_CANCELLABLE: { code: 'RECO_ERR_JOB_NOT_CANCELLABLE', status: 409 },
  MODEL_BROKEN: { code: 'RECO_ERR_MODEL_BROKEN', status: 409 },
  BODY_TOO_LARGE: { code: 'RECO_ERR_BODY_TOO_LARGE', status: 413 },
  URI_TOO_LONG: { code: 'RECO_ERR_URI_TOO_LONG', status: 414 },
  UNSUPPORTED_MEDIA_TYPE: { code: 'RECO_ERR_UNSUPPORTED_MEDIA_TYPE', status: 415 },
  QUEUE_FULL: { code: 'RECO_ERR_QUEUE_FULL', status: 429 },
  HEADERS_TOO_LARGE: { code: 'RECO_ERR_HEADERS_TOO_LARGE', status: 431 },
  INTERNAL: { code: 'RECO_ERR_INTERNAL', status: 500 },
  NO_MODEL: { code: 'RECO_ERR_NO_MODEL', status: 503 },
  NOT_READY: { code: 'RECO_ERR_NOT_READY', status: 503 },
  SHUTTING_DOWN: { code: 'RECO_ERR_SHUTTING_DOWN', status: 503 },
  STORAGE_FULL: { code: 'RECO_ERR_STORAGE_FULL', status: 507 },
} as const;

export type ErrorKind = keyof typeof ErrorCodes;

const STATUS_OF_CODE = new Map<string, number>(Object.values(ErrorCodes).map((e) => [e.code, e.status]));

/** The HTTP status of a catalogue code; undefined for a code the catalogue does not hold. */
export function statusOfCode(code: string): number | undefined {
  return STATUS_OF_CODE.get(code);
}

/** An error raised by a route itself, named by its catalogue entry. */
export class AppError extends CodedError {
  readonly code: (typeof ErrorCodes)[ErrorKind]['code'];
  constructor(
    kind: ErrorKind,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
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
    case 'FST_ERR_BAD_URL':
      return { kind: 'BAD_URL', message: 'the URL is not valid (bad percent-encoding or not UTF-8)' };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { kind: 'URI_TOO_LONG', message: 'a path segment of the URL is too long' };
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

export interface BodyLimits {
  /** Most bytes of an oversized body read and dropped before the 413 is sent. */
  discardBytes: number;
  /** Longest pause in a body before the request is given up. */
  idleMs: number;
}

function isClientAbort(err: FastifyError, request: FastifyRequest): boolean {
  if (err instanceof ClientAbortError) return true;
  const aborted = ['ECONNRESET', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE'].includes(err.code);
  return aborted && request.raw.destroyed && !request.raw.complete;
}

/** The error body for an error thrown by a route, Fastify or the writer thread; null for a 500. */
function classify(err: FastifyError): { status: number; code: string; message: string; details?: unknown } | null {
  // Domain errors (bad settings, a full queue, a broken checkpoint...) and the routes' own carry their code.
  const coded = err as unknown;
  if (coded instanceof CodedError) {
    const status = statusOfCode(coded.code);
    if (status !== undefined) return { status, code: coded.code, message: coded.message, details: coded.details };
  }
  if (err instanceof BodyTimeoutError) {
    const summary = importSummaryOf(err);
    return {
      status: 408,
      code: ErrorCodes.REQUEST_TIMEOUT.code,
      message: `the request body stalled: ${err.message}`,
      details: summary && committed(summary),
    };
  }
  const write = err as unknown;
  if (write instanceof WriteError && write.problem) {
    const { status, code } = ErrorCodes[write.problem.kind];
    return { status, code, message: write.problem.message, details: write.problem.details };
  }
  if (write instanceof WriteError && (write.code === 'SQLITE_FULL' || write.code === 'ENOSPC')) {
    const { status, code } = ErrorCodes.STORAGE_FULL;
    // An import reports the batches it committed before the disk filled; a single write stored nothing.
    const done = write.summary && committed(write.summary);
    const message = done
      ? `the storage is full; the import stopped after storing ${done.inserted + done.updated} rows`
      : 'the storage is full; nothing of this request was stored';
    return { status, code, message, details: done };
  }
  if (err.validation) {
    const message = `${err.validationContext ?? 'request'}${err.message.replace(/^(body|querystring|params|headers)/, '')}`;
    const kind = err.validation.some((v) => v.keyword === 'format' && v.params?.format === ID_FORMAT) ? 'INVALID_ID' : 'VALIDATION';
    return { status: 400, code: ErrorCodes[kind].code, message };
  }
  const mapped = fromFastify(err);
  if (mapped) {
    const { status, code } = ErrorCodes[mapped.kind];
    return { status, code, message: mapped.message };
  }
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  if (status < 500) return { status, code: ErrorCodes.VALIDATION.code, message: err.message };
  return null;
}

/** The counts an import committed before it stopped, for the error body's details. */
interface ImportCounts {
  inserted: number;
  updated: number;
  rejected: number;
}

export function committed(summary: ImportCounts): ImportCounts {
  return { inserted: summary.inserted, updated: summary.updated, rejected: summary.rejected };
}

export function createErrorHandler(limits: BodyLimits) {
  return function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (isClientAbort(err, request)) {
      // Nobody is left to answer; an expected event, not a fault of the service.
      request.log.info({ code: err.code, message: err.message }, 'client closed the connection before the request was complete');
      void reply.status(400).send(errorBody(400, ErrorCodes.BAD_REQUEST.code, 'request aborted'));
      return;
    }
    const c = classify(err);
    if (!c) {
      // Internal details (SQL text, stacks) stay in the log; the client gets the request id to quote.
      request.log.error({ err }, 'unhandled error');
      void reply.status(500).send(errorBody(500, ErrorCodes.INTERNAL.code, `internal error (request id ${request.id})`));
      return;
    }
    if (c.status >= 500) request.log.error({ err }, 'request failed');
    const body = errorBody(c.status, c.code, c.message, c.details);
    const raw = request.raw;
    if (raw.complete || raw.destroyed || c.status === 408) {
      // A stalled body is not waited for: the answer goes out and the connection closes.
      if (c.status === 408) reply.header('connection', 'close');
      void reply.status(c.status).send(body);
      return;
    }
    // The client is still sending: read the rest (up to a cap) before answering, so that it gets
    // the answer instead of a reset connection mid-upload. Past the cap it gets the answer and
    // the connection is closed.
    reply.header('connection', 'close');
    void discardBody(raw, limits.discardBytes, limits.idleMs).then(() => reply.status(c.status).send(body));
    return reply;
  };
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply.status(404).send(errorBody(404, ErrorCodes.NOT_FOUND.code, `route ${request.method} ${request.url.split('?')[0]} not found`));
}

/**
 * The raw answer to an error Node's HTTP parser reports before any request exists (headers too
 * large, request timeout, unparsable request), in the one error shape and with a request id.
 */
export function clientErrorResponse(err: NodeJS.ErrnoException, requestId: string): string {
  const kind: ErrorKind =
    err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST';
  const message = {
    HEADERS_TOO_LARGE: 'request headers are larger than the server accepts',
    REQUEST_TIMEOUT: 'the request was not received in time',
    BAD_REQUEST: 'the request could not be parsed',
  }[kind as 'BAD_REQUEST'];
  const { status, code } = ErrorCodes[kind];
  const body = JSON.stringify(errorBody(status, code, message));
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`
  );
}
