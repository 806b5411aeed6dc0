import { TaskpoolError } from '../errors.ts';

/** A job is not in a state that allows the operation, e.g. retrying a job that has not failed (HTTP 409). */
export class JobConflictError extends TaskpoolError {
  override name = 'JobConflictError';
  constructor(
    readonly jobId: string,
    /** The job's state when the operation was refused. */
    readonly state: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('CONFLICT', message, options);
  }
}
