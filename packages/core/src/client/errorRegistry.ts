import {
  ObjectCorruptError,
  ObjectNotFoundError,
  PayloadTooLargeError,
  CancelledError,
  RemoteTaskError,
  SandboxCrashError,
  TaskTimeoutError,
  ValidationError,
  type ValidationIssue,
} from '../errors.ts';
import type { FailureReason, SerializedError } from '../serializeError.ts';

/** An error class a client can rebuild remote errors as. Its constructor is never called. */
export type ErrorClass = new (...args: never[]) => Error;

/** Options of `client.registerError`. */
export interface RegisterErrorOptions {
  /** The remote error's `name` to match. Default: the class's name. */
  name?: string;
}

/** What a client knows of the job behind an error it rebuilt. */
export interface TaskFailure {
  jobId: string;
  reason: FailureReason;
  /** Attempts made when the job failed for good (0 for a job cancelled before it ran). */
  attemptsMade: number;
  /** The error as the worker serialized it. */
  remote: SerializedError;
}

const failures = new WeakMap<Error, TaskFailure>();

/**
 * The job behind an error that `handle.result()` (or a map) threw, whatever its class: a
 * {@link RemoteTaskError} and its subclasses, a {@link ValidationError} from the worker, or a registered
 * class. Undefined for any other error (e.g. a `ValidationError` thrown by `submit` itself).
 */
export function taskFailureOf(error: unknown): TaskFailure | undefined {
  return error instanceof Error ? failures.get(error) : undefined;
}

const CRASHES: ReadonlySet<FailureReason> = new Set(['exit', 'signal', 'killed', 'oom', 'quarantined', 'stalled']);

/**
 * Turns a failed job's serialized error into the error the caller gets, by the worker's failure reason:
 *
 * | reason | class | code |
 * | --- | --- | --- |
 * | `timeout` | {@link TaskTimeoutError} | `TASK_TIMEOUT` |
 * | `cancelled` | {@link CancelledError} | `CANCELLED` |
 * | `exit`, `signal`, `killed`, `oom`, `quarantined`, `stalled` | {@link SandboxCrashError} | `SANDBOX_CRASHED` |
 * | `invalid` (input or output) | {@link ValidationError} | `INVALID_INPUT` / `INVALID_OUTPUT` |
 * | `error` and the rest | a registered class of that name, else {@link RemoteTaskError} | its own / `TASK_FAILED` |
 *
 * taskpool's own errors of objects by reference are registered from the start: a missing object fails as
 * `ObjectNotFoundError` (`OBJECT_NOT_FOUND`), bytes that do not match as `ObjectCorruptError`, a `ctx.put` or an
 * output over the largest object as `PayloadTooLargeError` (`PAYLOAD_TOO_LARGE`).
 *
 * A registered class is rebuilt without running its constructor (`Object.create(Class.prototype)`), with the
 * remote name, message, stack, code, cause and own fields; its causes are rebuilt the same way.
 */
export class ErrorRegistry {
  private readonly classes = new Map<string, ErrorClass>([
    ['ObjectNotFoundError', ObjectNotFoundError],
    ['ObjectCorruptError', ObjectCorruptError],
    ['PayloadTooLargeError', PayloadTooLargeError],
  ]);

  /** Registers a class under its name (or `options.name`); a later registration of the name replaces it. */
  register(type: ErrorClass, options: RegisterErrorOptions = {}): void {
    const name = options.name ?? type.name;
    if (!name) throw new TypeError('An anonymous error class needs options.name');
    this.classes.set(name, type);
  }

  /** The error of a job that failed for good. */
  rebuild(jobId: string, remote: SerializedError, attemptsMade: number): Error {
    const reason = remote.reason ?? 'error';
    let error: Error;
    if (reason === 'timeout') error = new TaskTimeoutError(jobId, remote, attemptsMade);
    else if (reason === 'cancelled') error = new CancelledError(jobId, remote, attemptsMade);
    else if (CRASHES.has(reason)) error = new SandboxCrashError(jobId, remote, attemptsMade);
    else if (reason === 'invalid' && (remote.code === 'INVALID_INPUT' || remote.code === 'INVALID_OUTPUT')) {
      error = remoteValidationError(remote.code, remote);
    } else {
      const registered = this.classes.get(remote.name);
      error = registered ? this.instantiate(registered, remote) : new RemoteTaskError(jobId, remote, attemptsMade);
    }
    if (remote.cause) define(error, 'cause', this.rebuildCause(remote.cause), false);
    failures.set(error, { jobId, reason, attemptsMade, remote });
    return error;
  }

  private rebuildCause(cause: SerializedError): Error {
    const registered = this.classes.get(cause.name);
    const error = registered ? this.instantiate(registered, cause) : plainError(cause);
    if (cause.cause) define(error, 'cause', this.rebuildCause(cause.cause), false);
    return error;
  }

  private instantiate(type: ErrorClass, remote: SerializedError): Error {
    const error = Object.create(type.prototype as object) as Error;
    define(error, 'name', remote.name, true);
    define(error, 'message', remote.message, false);
    define(error, 'stack', remote.stack ?? `${remote.name}: ${remote.message}`, false);
    if (remote.code !== undefined) define(error, 'code', remote.code, true);
    for (const [key, value] of Object.entries(remote.fields ?? {})) define(error, key, value, true);
    return error;
  }
}

function remoteValidationError(code: 'INVALID_INPUT' | 'INVALID_OUTPUT', remote: SerializedError): ValidationError {
  const { task, issues } = remote.fields ?? {};
  const error = new ValidationError(code, typeof task === 'string' ? task : '', Array.isArray(issues) ? (issues as unknown as ValidationIssue[]) : []);
  error.message = remote.message;
  error.stack = remote.stack ?? `${remote.name}: ${remote.message}`;
  return error;
}

function plainError(cause: SerializedError): Error {
  const error = new Error(cause.message);
  error.name = cause.name;
  error.stack = cause.stack ?? `${cause.name}: ${cause.message}`;
  if (cause.code !== undefined) define(error, 'code', cause.code, true);
  for (const [key, value] of Object.entries(cause.fields ?? {})) define(error, key, value, true);
  return error;
}

/** Own, writable data property: shadows a getter or a read-only field of the prototype instead of failing on it. */
function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable });
}
