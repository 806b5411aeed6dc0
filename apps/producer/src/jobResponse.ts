import type { JobView, SerializedError } from '@taskpool/core';

/** A job's error as the HTTP API shows it: the worker's structured error without stack traces. */
export type JobResponseError = Omit<SerializedError, 'stack' | 'cause'> & { cause?: JobResponseError };

/** The body of `GET /v1/jobs/:id`: the job's view without its input, and its error without stacks. */
export type JobResponse = Omit<JobView, 'input' | 'error'> & { error?: JobResponseError };

/**
 * What the HTTP API shows of a job. The input is left out (it may be large or private; the caller sent it),
 * and so are stack traces, which name files on the workers.
 */
export function toJobResponse(view: JobView): JobResponse {
  const response: JobResponse = {
    id: view.id,
    task: view.task,
    queue: view.queue,
    state: view.state,
    attempts: view.attempts,
    progress: view.progress,
    createdAt: view.createdAt,
  };
  if (view.finishedAt !== undefined) response.finishedAt = view.finishedAt;
  if (view.result !== undefined) response.result = view.result;
  if (view.error !== undefined) response.error = withoutStacks(view.error);
  return response;
}

/** A serialized error without its stack traces (nor its causes'). */
export function withoutStacks(error: SerializedError): JobResponseError {
  const { stack: _stack, cause, ...rest } = error;
  return cause ? { ...rest, cause: withoutStacks(cause) } : rest;
}
