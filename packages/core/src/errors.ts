import type { FailureReason, JsonValue, SerializedError } from './serializeError.ts';

/** Every error code taskpool raises; the HTTP status of each is in `errorHttpStatus.ts`. */
export type TaskpoolErrorCode =
  | 'INVALID_INPUT'
  | 'INVALID_OUTPUT'
  | 'UNKNOWN_TASK'
  | 'JOB_NOT_FOUND'
  | 'TASK_FAILED'
  | 'RESULT_TIMEOUT'
  | 'SANDBOX_CRASHED'
  | 'TASK_MODULE_INVALID'
  | 'CONFIG_INVALID'
  | 'REDIS_UNAVAILABLE'
  | 'UNAUTHORIZED'
  | 'BAD_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'CONFLICT'
  | 'TASK_TIMEOUT'
  | 'CANCELLED'
  | 'INVALID_WORKFLOW'
  | 'CLIENT_CLOSED'
  | 'SANDBOX_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'NOT_REPLICATED'
  | 'OBJECT_NOT_FOUND'
  | 'OBJECT_CORRUPT';

/** The base of every error taskpool throws: a stable `code`, `name` set, `cause` kept. */
export class TaskpoolError extends Error {
  readonly code: TaskpoolErrorCode;
  override name = 'TaskpoolError';
  constructor(code: TaskpoolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** One field-level problem, as zod reports it. */
export interface ValidationIssue {
  path: (string | number)[];
  message: string;
  code: string;
}

/** A task's input (before enqueueing, or in the worker) or output failed its zod schema. */
export class ValidationError extends TaskpoolError {
  override name = 'ValidationError';
  readonly task: string;
  readonly issues: ValidationIssue[];
  constructor(code: 'INVALID_INPUT' | 'INVALID_OUTPUT', task: string, issues: ValidationIssue[]) {
    const where = code === 'INVALID_INPUT' ? 'input' : 'output';
    const first = issues[0];
    const detail = first ? `: ${first.path.join('.') || '(root)'}: ${first.message}` : '';
    super(code, `Invalid ${where} for task ${task}${detail}${issues.length > 1 ? ` (+${issues.length - 1} more)` : ''}`);
    this.task = task;
    this.issues = issues;
  }
}

/** No task of that name is registered. */
export class UnknownTaskError extends TaskpoolError {
  override name = 'UnknownTaskError';
  constructor(readonly task: string) {
    super('UNKNOWN_TASK', `Unknown task ${JSON.stringify(task)}`);
  }
}

/** No job with that id exists (any more) in the queues searched. */
export class JobNotFoundError extends TaskpoolError {
  override name = 'JobNotFoundError';
  constructor(readonly jobId: string) {
    super('JOB_NOT_FOUND', `No job with id ${JSON.stringify(jobId)}`);
  }
}

/** `handle.result({ timeoutMs })` ran out of time; the task itself goes on. */
export class ResultTimeoutError extends TaskpoolError {
  override name = 'ResultTimeoutError';
  constructor(readonly jobId: string, readonly timeoutMs: number) {
    super('RESULT_TIMEOUT', `No result for job ${jobId} within ${timeoutMs} ms (the task was not cancelled)`);
  }
}

/**
 * A job failed for good: the handler threw, or (subclasses) the attempt timed out, was cancelled or lost its
 * sandbox. Carries the remote error's name, message, stack, code, cause chain and own JSON-safe fields.
 *
 * `instanceof RemoteTaskError` is plain prototype inheritance: it is true for this class and its subclasses
 * ({@link TaskTimeoutError}, {@link CancelledError}, {@link SandboxCrashError}), and false for the two other
 * shapes a failed job can take on the client: a {@link ValidationError} (reason `invalid`) and an instance of
 * an error class registered with the client (`createClient({ errors: [QuotaError] })`). For any of them,
 * `taskFailureOf(error)` gives the job id, reason, attempts and serialized remote error.
 */
export class RemoteTaskError extends TaskpoolError {
  override name = 'RemoteTaskError';
  /** The remote error's class name, e.g. `'TypeError'`. */
  readonly remoteName: string;
  /** The remote error's own code, if it had one. */
  readonly remoteCode: string | undefined;
  /** How the worker classified the failure. */
  readonly reason: FailureReason;
  /** The remote error's own JSON-safe fields. */
  readonly fields: Record<string, JsonValue>;
  /** Attempts made when the job failed for good. */
  readonly attemptsMade: number;
  readonly jobId: string;
  readonly remote: SerializedError;
  constructor(jobId: string, remote: SerializedError, attemptsMade: number) {
    super('TASK_FAILED', remote.message, remote.cause ? { cause: rebuildCause(remote.cause) } : undefined);
    this.jobId = jobId;
    this.remote = remote;
    this.remoteName = remote.name;
    this.remoteCode = remote.code;
    this.reason = remote.reason ?? 'error';
    this.fields = remote.fields ?? {};
    this.attemptsMade = attemptsMade;
    this.stack = remote.stack ?? `${remote.name}: ${remote.message}`;
  }
}

/** An attempt ran past its time limit (reason `timeout`); the worker killed it. Not retried unless attempts remain. */
export class TaskTimeoutError extends RemoteTaskError {
  override name = 'TaskTimeoutError';
  override readonly code = 'TASK_TIMEOUT';
  /** The limit that was exceeded, when the worker reported it. */
  readonly timeoutMs: number | undefined;
  constructor(jobId: string, remote: SerializedError, attemptsMade: number) {
    super(jobId, remote, attemptsMade);
    this.timeoutMs = numberField(remote, 'timeoutMs');
  }
}

/** The job was cancelled (`handle.cancel()`): removed before it ran, or aborted while it ran. Never retried. */
export class CancelledError extends RemoteTaskError {
  override name = 'CancelledError';
  override readonly code = 'CANCELLED';
}

/**
 * The sandbox process died while it ran the task (reason `exit`, `signal` or `oom`), or the task killed it too
 * often (`quarantined`), or the whole worker running it died, froze or was cut off from Redis more often than
 * the job's stall budget allows (`stalled`, remote name `StalledJobError`, remote code `STALLED`, `fields.stalls`;
 * see the worker's `maxStalls`): then the handler may have run, in part or to the end.
 */
export class SandboxCrashError extends RemoteTaskError {
  override name = 'SandboxCrashError';
  override readonly code = 'SANDBOX_CRASHED';
  /** The sandbox's exit code, if it exited. */
  readonly exitCode: number | null;
  /** The signal that killed the sandbox, if any. */
  readonly signal: string | null;
  constructor(jobId: string, remote: SerializedError, attemptsMade: number) {
    super(jobId, remote, attemptsMade);
    this.exitCode = numberField(remote, 'exitCode') ?? null;
    const signal = remote.fields?.signal;
    this.signal = typeof signal === 'string' ? signal : null;
  }
}

/**
 * A value is bigger than the most one job may store (`maxJobBytes` of the client, the producer's body limit):
 * nothing was written to Redis. Code `PAYLOAD_TOO_LARGE` (HTTP 413).
 */
export class PayloadTooLargeError extends TaskpoolError {
  override name = 'PayloadTooLargeError';
  constructor(
    /** What was too large, e.g. `'input of task math.sum'`. */
    readonly what: string,
    readonly bytes: number,
    readonly limitBytes: number,
  ) {
    super('PAYLOAD_TOO_LARGE', `The ${what} takes ${bytes} bytes stored, more than the limit of ${limitBytes}`);
  }
}

/** A reference names an object its store does not hold (deleted, expired, never written). Code `OBJECT_NOT_FOUND` (HTTP 404). */
export class ObjectNotFoundError extends TaskpoolError {
  override name = 'ObjectNotFoundError';
  constructor(readonly objectId: string) {
    super('OBJECT_NOT_FOUND', `Object ${objectId} is not in its store (deleted, expired, or never written)`);
  }
}

/** An object's bytes do not match the size and SHA-256 its reference carries. Code `OBJECT_CORRUPT` (HTTP 500). */
export class ObjectCorruptError extends TaskpoolError {
  override name = 'ObjectCorruptError';
  constructor(readonly objectId: string, detail: string) {
    super('OBJECT_CORRUPT', `Object ${objectId} is corrupt: ${detail}`);
  }
}

/** The same idempotency key was used again with a different input (HTTP 409); nothing was enqueued. */
export class IdempotencyConflictError extends TaskpoolError {
  override name = 'IdempotencyConflictError';
  constructor(readonly jobId: string) {
    super('CONFLICT', `This idempotency key was already used with a different input (job ${jobId})`);
  }
}

/** The client was closed while something still waited on it (a result, a map); the jobs themselves go on. */
export class ClientClosedError extends TaskpoolError {
  override name = 'ClientClosedError';
  constructor() {
    super('CLIENT_CLOSED', 'The client was closed before the job finished (the job goes on)');
  }
}

/**
 * A worker has no sandbox to run a job in, and none can start (every start fails: a fork the OS refuses,
 * a task module whose `setup()` throws). The job is put back to waiting, not failed.
 */
export class SandboxUnavailableError extends TaskpoolError {
  override name = 'SandboxUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('SANDBOX_UNAVAILABLE', message, options);
  }
}

/**
 * Redis is down, unreachable, or did not answer in time (HTTP 503, code `REDIS_UNAVAILABLE`); `cause` keeps
 * the connection error, if there was one. A submit (`submit`, `run`, a map's adds, `admin.submitBatch`) throws
 * it only after retrying for `submitRetryMs`; every other call that needs Redis throws it at once. A submit
 * that throws it enqueued nothing, unless an add was cut off after Redis applied it: resubmitting with the
 * same `idempotencyKey` is safe either way.
 */
export class RedisUnavailableError extends TaskpoolError {
  override name = 'RedisUnavailableError';
  override readonly code = 'REDIS_UNAVAILABLE';
  constructor(message = 'Redis is unavailable', options?: { cause?: unknown }) {
    super('REDIS_UNAVAILABLE', message, options);
  }
}

/** A workflow cannot run as built: e.g. a step that takes an input has none to take, or a malformed JSON spec. */
export class InvalidWorkflowError extends TaskpoolError {
  override name = 'InvalidWorkflowError';
  constructor(message: string) {
    super('INVALID_WORKFLOW', message);
  }
}

/**
 * A workflow step cannot take what the step before it gives (e.g. in `chain(a, b)`, `b`'s input schema
 * refuses every value `a`'s output schema allows): found before anything is sent (code `INVALID_WORKFLOW`).
 */
export class StepTypeMismatchError extends InvalidWorkflowError {
  override name = 'StepTypeMismatchError';
  constructor(
    /** What gives the value, e.g. `step math.square`. */
    readonly from: string,
    /** The step that cannot take it, e.g. `step text.upper`. */
    readonly to: string,
    /** Where and how they differ, e.g. `the input.n: gives string, needs number`. */
    readonly mismatch: string,
  ) {
    super(`${to[0]!.toUpperCase()}${to.slice(1)} cannot take the output of ${from}: ${mismatch}`);
  }
}

/** A task module could not be loaded or holds something wrong (e.g. two tasks with one name). */
export class TaskModuleError extends TaskpoolError {
  override name = 'TaskModuleError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('TASK_MODULE_INVALID', message, options);
  }
}

/** Configuration (env or flags) failed validation; the message lists every bad key. */
export class ConfigError extends TaskpoolError {
  override name = 'ConfigError';
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

function rebuildCause(cause: SerializedError): Error {
  const error = new Error(cause.message, cause.cause ? { cause: rebuildCause(cause.cause) } : undefined);
  error.name = cause.name;
  if (cause.stack) error.stack = cause.stack;
  if (cause.code) Object.assign(error, { code: cause.code });
  if (cause.fields) Object.assign(error, cause.fields);
  return error;
}

function numberField(remote: SerializedError, key: string): number | undefined {
  const value = remote.fields?.[key];
  return typeof value === 'number' ? value : undefined;
}

/**
 * A durable submit (`durable` in `SubmitOptions`) was written to the Redis master, but fewer replicas than
 * asked confirmed it in time (Redis `WAIT`), it was no longer on the master by then, or the confirmation
 * failed (its `cause`). The job may run, or may be lost if the master fails now. Submitting again with the
 * same `idempotencyKey` is safe. HTTP 503.
 */
export class NotReplicatedError extends TaskpoolError {
  override name = 'NotReplicatedError';
  constructor(
    readonly jobId: string,
    /** Replicas asked for. */
    readonly replicas: number,
    /** Replicas that confirmed. */
    readonly acknowledged: number,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super('NOT_REPLICATED', `Job ${jobId} was sent to the Redis master but ${acknowledged} of ${replicas} replicas confirmed it within ${timeoutMs} ms: it may run, or be lost if the master fails now`, options);
  }
}
