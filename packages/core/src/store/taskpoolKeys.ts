/**
 * The keys and channels taskpool keeps beside BullMQ's, all under the prefix (so under its hash tag on a Redis
 * Cluster): `prefix:tp:*`, and markers beside a job's hash. The per-task counts' keys are in `taskCounts.ts`,
 * the statistics' in `minuteStats.ts`.
 */

/** The default BullMQ key prefix of taskpool's queues. */
export const DEFAULT_PREFIX = 'taskpool';

/** The Redis hash of live workers (field: worker id, value: JSON `WorkerInfo`). */
export function workersKey(prefix: string): string {
  return `${prefix}:tp:workers`;
}

/** The pub/sub channel on which any client asks the worker running a job to cancel it: message JSON `{ queue, jobId }`. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:tp:cancel`;
}

/**
 * The key a client sets to cancel a whole workflow (`WorkflowHandle.cancel()`): a worker fails every step of
 * that workflow it fetches afterwards as cancelled, instead of running it.
 */
export function workflowCancelKey(prefix: string, workflowId: string): string {
  return `${prefix}:tp:wfcancel:${workflowId}`;
}

/** The marker of a job removed by a cancel before it ran (`<job key>:cancelled`). */
export function cancelledMarkerKey(jobKeyName: string): string {
  return `${jobKeyName}:cancelled`;
}

/**
 * The key a durable submit writes just before its `WAIT` (`waitForReplicas.ts`), so that its connection has a
 * write at least as late as the job's; it expires after a minute.
 */
export function replicationProbeKey(prefix: string): string {
  return `${prefix}:tp:replication-probe`;
}
