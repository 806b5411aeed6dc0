/**
 * BullMQ's key layout, as taskpool reads it: a queue's keys are `prefix:queue:<suffix>`, a job's hash is
 * `prefix:queue:<id>`, its lock `prefix:queue:<id>:lock`. Every module that reads BullMQ's structures itself
 * takes its key names from here.
 */

/**
 * BullMQ's structures of a queue that taskpool reads: lists `wait`, `paused`, `active`; the stream `events`; the
 * hash `meta` (paused flag, global concurrency and rate limit, event stream length); the set `stalled` (jobs
 * its stalled check marked); sorted sets the rest (`marker`: what blocked workers wait on).
 */
export type QueueStructure = 'wait' | 'paused' | 'active' | 'delayed' | 'prioritized' | 'waiting-children' | 'completed' | 'failed' | 'events' | 'meta' | 'stalled' | 'marker';

/** The Redis key of one of a queue's structures (`prefix:queue:wait`, ...). */
export function queueKey(prefix: string, queue: string, structure: QueueStructure): string {
  return `${prefix}:${queue}:${structure}`;
}

/** The Redis key of a job's hash (BullMQ's layout: `prefix:queue:id`). */
export function jobKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:${jobId}`;
}

/** The key of a job's lock: it exists while a worker runs the job. */
export function lockKey(jobKeyName: string): string {
  return `${jobKeyName}:lock`;
}

/** The queue and id of a job from its key (job ids never hold a `:`), as BullMQ names children in a parent's sets. */
export function parseJobKey(prefix: string, key: string): { queue: string; jobId: string } {
  const colon = key.lastIndexOf(':');
  return { queue: key.slice(prefix.length + 1, colon), jobId: key.slice(colon + 1) };
}

/** BullMQ's score of a delayed job is its due time × 0x1000 plus a counter: the due time (ms) of a score. */
export function delayedDueAt(score: number): number {
  return Math.floor(score / 0x1000);
}

/** A flow parent's keys of its children (BullMQ's): `dependencies` (set, pending), `processed` and `failed` (hashes). */
export function childrenKeys(jobKeyName: string): { dependencies: string; processed: string; failed: string } {
  return { dependencies: `${jobKeyName}:dependencies`, processed: `${jobKeyName}:processed`, failed: `${jobKeyName}:failed` };
}
