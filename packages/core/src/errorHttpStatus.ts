import type { TaskpoolErrorCode } from './errors.ts';

/** The one table from error codes to HTTP statuses. */
export const errorHttpStatus: Readonly<Record<TaskpoolErrorCode, number>> = Object.freeze({
  INVALID_INPUT: 400,
  BAD_REQUEST: 400,
  INVALID_WORKFLOW: 400,
  UNAUTHORIZED: 401,
  UNKNOWN_TASK: 404,
  JOB_NOT_FOUND: 404,
  CONFLICT: 409,
  CANCELLED: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INVALID_OUTPUT: 500,
  TASK_FAILED: 500,
  SANDBOX_CRASHED: 500,
  TASK_MODULE_INVALID: 500,
  CONFIG_INVALID: 500,
  RESULT_TIMEOUT: 504,
  TASK_TIMEOUT: 504,
  REDIS_UNAVAILABLE: 503,
  CLIENT_CLOSED: 503,
  SANDBOX_UNAVAILABLE: 503,
});
