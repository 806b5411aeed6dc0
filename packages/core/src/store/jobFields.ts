/**
 * The fields of a BullMQ job hash that taskpool reads or writes. BullMQ's own: `name` (the task), `data`,
 * `opts`, `timestamp`, `processedOn`, `finishedOn`, `returnvalue`, `failedReason`, `stacktrace`,
 * `attemptsMade`, and `defa` ({@link DEFERRED_FAILURE_FIELD}). Ours, beside them (so they go when the job goes):
 * the `tp…` ones below.
 */

/** The last attempt's structured error (JSON `SerializedError`), written by the worker. */
export const JOB_ERROR_FIELD = 'tpError';

/** Set to 1 by a client to cancel the job; a worker rereads it every second for the jobs it holds. */
export const CANCEL_FIELD = 'tpCancel';

/**
 * BullMQ's deferred failure: a job fetched with this field set is failed at once with its text as the reason
 * (an `UnrecoverableError`), and its processor is never called. A cancel of a job not running sets it (with
 * {@link CANCELLED_REASON}), so a worker that fetches the job afterwards never runs it, with no read of its own.
 */
export const DEFERRED_FAILURE_FIELD = 'defa';

/** BullMQ's `failedReason` (from {@link DEFERRED_FAILURE_FIELD}) of a job cancelled before it ran. */
export const CANCELLED_REASON = 'The task was cancelled before it started';

/** How many attempts of the job crashed its sandbox (exit, signal, oom): at the limit it is quarantined. */
export const CRASHES_FIELD = 'tpCrashes';

/** Where the job is counted in the per-task counts now (`q`, `p`, `a`, `f:<reason>`, `d`; see `countScript.ts`). */
export const COUNTED_FIELD = 'tpCounted';

/** BullMQ's `failedReason` for a job whose lock lapsed more than `maxStalledCount` times. */
export const STALLED_REASON = 'job stalled more than allowable limit';
