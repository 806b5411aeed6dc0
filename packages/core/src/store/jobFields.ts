/**
 * The fields of a BullMQ job hash that taskpool reads or writes. BullMQ's own: `name` (the task), `data`,
 * `opts`, `timestamp`, `processedOn`, `finishedOn`, `returnvalue`, `failedReason`, `stacktrace`,
 * `attemptsMade`. Ours, beside them (so they go when the job goes): the ones below.
 */

/** The last attempt's structured error (JSON `SerializedError`), written by the worker. */
export const JOB_ERROR_FIELD = 'tpError';

/** Set to 1 by a client to cancel the job; a worker checks it before it runs the job. */
export const CANCEL_FIELD = 'tpCancel';

/** How many attempts of the job crashed its sandbox (exit, signal, oom): at the limit it is quarantined. */
export const CRASHES_FIELD = 'tpCrashes';

/** Where the job is counted in the per-task counts now (`q`, `p`, `a`, `f:<reason>`, `d`; see `countScript.ts`). */
export const COUNTED_FIELD = 'tpCounted';

/** BullMQ's `failedReason` for a job whose lock lapsed more than `maxStalledCount` times. */
export const STALLED_REASON = 'job stalled more than allowable limit';
