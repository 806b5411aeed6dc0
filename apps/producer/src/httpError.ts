import {
  errorHttpStatus,
  IdempotencyConflictError,
  JobConflictError,
  JobNotFoundError,
  StepTypeMismatchError,
  TaskpoolError,
  UnknownTaskError,
  ValidationError,
  type TaskpoolErrorCode,
} from '@taskpool/core';
import { isConnectionError } from '@taskpool/core/internal';
import { BatchValidationError } from './routes/batchValidation.ts';
import { BadRequestError } from './routes/parseRequest.ts';

/**
 * The codes the HTTP API answers with: every {@link TaskpoolErrorCode}, plus `ROUTE_NOT_FOUND` (no such
 * route) and `INTERNAL` (anything unexpected), which no taskpool error carries.
 */
export type HttpErrorCode = TaskpoolErrorCode | 'ROUTE_NOT_FOUND' | 'INTERNAL';

/** The body of every error answer: `{ error: { code, message, ...details } }`. */
export interface HttpErrorBody {
  error: { code: HttpErrorCode; message: string } & Record<string, unknown>;
}

/** An error, as the HTTP API answers it. */
export interface HttpError {
  status: number;
  body: HttpErrorBody;
  /** Headers of the answer: `retry-after` on a 503 `REDIS_UNAVAILABLE`. */
  headers?: Record<string, string>;
}

/**
 * The `Retry-After` of a 503 `REDIS_UNAVAILABLE`, in seconds: a submit answers it only once Redis has been
 * away for its whole `submitRetryMs` (5 s by default), an outage that is no blip; callers then space their retries as much.
 */
export const REDIS_RETRY_AFTER_SECONDS = 5;

const INTERNAL: HttpError = { status: 500, body: { error: { code: 'INTERNAL', message: 'Internal server error' } } };

/**
 * Maps anything a route threw to its answer: a {@link TaskpoolError} by its code through `errorHttpStatus`;
 * Fastify's own errors to `BAD_REQUEST` (malformed JSON), `UNSUPPORTED_MEDIA_TYPE` (a body without
 * `content-type: application/json`) or `PAYLOAD_TOO_LARGE`;
 * Redis connection errors to `REDIS_UNAVAILABLE`; anything else to `INTERNAL`, with no message or stack.
 * A `REDIS_UNAVAILABLE` answer says when to try again (`Retry-After`).
 */
export function toHttpError(error: unknown): HttpError {
  const answer = answerOf(error);
  if (answer.body.error.code !== 'REDIS_UNAVAILABLE') return answer;
  return { ...answer, headers: { 'retry-after': String(REDIS_RETRY_AFTER_SECONDS) } };
}

function answerOf(error: unknown): HttpError {
  if (error instanceof TaskpoolError) {
    return { status: errorHttpStatus[error.code], body: { error: { code: error.code, message: error.message, ...detailsOf(error) } } };
  }
  if (!(error instanceof Error)) return INTERNAL;
  if (isConnectionError(error)) return fromCode('REDIS_UNAVAILABLE', 'Redis is unavailable');
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode !== 'number' || typeof code !== 'string' || !code.startsWith('FST_')) return INTERNAL;
  if (statusCode === 413) return fromCode('PAYLOAD_TOO_LARGE', error.message);
  if (statusCode === 415) return fromCode('UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON, with content-type: application/json');
  if (statusCode >= 400 && statusCode < 500) return fromCode('BAD_REQUEST', error.message);
  return INTERNAL;
}

function fromCode(code: TaskpoolErrorCode, message: string): HttpError {
  return { status: errorHttpStatus[code], body: { error: { code, message } } };
}

/** The fields of an error a caller may act on; explicit, so nothing internal leaks. */
function detailsOf(error: TaskpoolError): Record<string, unknown> {
  if (error instanceof BatchValidationError) return { task: error.task, issues: error.issues, items: error.items };
  if (error instanceof ValidationError) return { task: error.task, issues: error.issues };
  if (error instanceof UnknownTaskError) return { task: error.task };
  if (error instanceof JobNotFoundError) return { jobId: error.jobId };
  if (error instanceof JobConflictError) return { jobId: error.jobId, state: error.state };
  if (error instanceof IdempotencyConflictError) return { jobId: error.jobId };
  if (error instanceof BadRequestError) return { issues: error.issues };
  if (error instanceof StepTypeMismatchError) return { from: error.from, to: error.to, mismatch: error.mismatch };
  return {};
}
