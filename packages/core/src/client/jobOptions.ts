import { createHash } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type { TaskDefaults } from '../taskContract.ts';
import type { DedupeOverride } from './dedupe.ts';
import type { DurableOptions } from './durableSubmit.ts';

/** Per-submit overrides of a task's defaults. */
export interface SubmitOptions extends Pick<TaskDefaults, 'attempts' | 'backoff' | 'priority' | 'timeoutMs'> {
  /** Run no sooner than this many ms from now. Default: 0. */
  delayMs?: number;
  /**
   * Submits at most once per key and task: the job id is derived from the task's name and the key, and
   * BullMQ ignores an add whose id exists, so a second submit returns a handle on the first job. The same
   * key with a different input throws `IdempotencyConflictError`. The guarantee lasts as long as the first
   * job is kept (by default 24 h once completed, 7 days once failed); a job cancelled before it ran is
   * removed, so its key can be used again. The HTTP API's `Idempotency-Key` gives the same ids.
   */
  idempotencyKey?: string;
  /**
   * Returns only once Redis replicas hold the job (Redis `WAIT`, after the add): a failover of the master then
   * does not lose it, as it can lose a plain submit's job (replication is asynchronous; Sentinel promotes the
   * replica that has the most). `true` asks for 1 replica within 1000 ms; `{ replicas, timeoutMs }` sets them.
   * If fewer confirm in time (none connected, a lagging link, a failover under way), throws
   * `NotReplicatedError` (`NOT_REPLICATED`): the job was written to the master and may run, or may be lost;
   * submit again with the same `idempotencyKey` to have it exactly once. Costs about one replication round
   * trip per submit (concurrent durable submits share one `WAIT`) and a connection of the client's own for
   * it; with no replica every durable submit fails. Not on a Redis Cluster (`ConfigError`). Default: off.
   */
  durable?: boolean | DurableOptions;
  /**
   * Deduplication of this submit (issue #16): a submit of the same task with the same key less than `ttlMs` after
   * the first (from any client or producer) enqueues nothing and returns a handle on the first one's job, whatever
   * its input. `false` turns off the task's declared `dedupe` for this submit. Default: the task's `dedupe`, if
   * any. Not for `map` (its items are one call).
   */
  dedupe?: DedupeOverride | false;
}

/** How long finished jobs are kept, in seconds. */
export interface KeepPolicy {
  completedSeconds: number;
  failedSeconds: number;
}

/**
 * BullMQ job options with the per-attempt time limit: BullMQ keeps option keys it does not know in the job
 * hash (`opts`), and the worker reads `job.opts.timeoutMs` before the task's `defaults.timeoutMs`.
 */
export type TaskJobOptions = JobsOptions & { timeoutMs?: number };

/**
 * The job options of a submit: attempts, backoff and priority from the submit, else the task's defaults,
 * else 1 attempt and exponential backoff from 1 s; a per-submit `timeoutMs` (the task's default is read by
 * the worker itself); the keep policy. The caller adds `jobId`.
 */
export function jobOptions(defaults: TaskDefaults, overrides: SubmitOptions, keep: KeepPolicy): TaskJobOptions {
  return {
    ...attemptOptions(defaults, overrides),
    ...(overrides.delayMs !== undefined && overrides.delayMs > 0 && { delay: overrides.delayMs }),
    ...keepOptions(keep),
  };
}

/** Attempts, backoff, priority and per-attempt time limit: the overrides, else the task's defaults (see {@link jobOptions}). */
export function attemptOptions(defaults: TaskDefaults, overrides: Pick<TaskDefaults, 'attempts' | 'backoff' | 'priority' | 'timeoutMs'>): TaskJobOptions {
  const backoff = overrides.backoff ?? defaults.backoff ?? { type: 'exponential', delayMs: 1_000 };
  const priority = overrides.priority ?? defaults.priority;
  const attempts = overrides.attempts ?? defaults.attempts ?? 1;
  return {
    attempts,
    // A job with one attempt has no backoff to keep (a fan-out of 10,000 saves 50 bytes a job).
    ...(attempts > 1 && { backoff: { type: backoff.type, delay: backoff.delayMs } }),
    ...(priority !== undefined && { priority }),
    ...(overrides.timeoutMs !== undefined && { timeoutMs: overrides.timeoutMs }),
  };
}

/** The keep policy of a client or admin: completed jobs 24 h, failed ones 7 days, unless overridden. */
export function keepPolicy(keep: Partial<KeepPolicy> = {}): KeepPolicy {
  return { completedSeconds: keep.completedSeconds ?? 24 * 3600, failedSeconds: keep.failedSeconds ?? 7 * 24 * 3600 };
}

/** BullMQ's retention options from a keep policy. */
export function keepOptions(keep: KeepPolicy): Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> {
  return { removeOnComplete: { age: keep.completedSeconds }, removeOnFail: { age: keep.failedSeconds } };
}

/**
 * The job id of an idempotent submit: UUID-shaped (RFC 9562 version 8) from SHA-256 of the task's name and
 * the key, so it is stable, never clashes between tasks, and is the id the HTTP API derives from the same
 * `Idempotency-Key`.
 */
export function idempotentJobId(task: string, key: string): string {
  const hex = createHash('sha256').update(`${task}\n${key}`).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
