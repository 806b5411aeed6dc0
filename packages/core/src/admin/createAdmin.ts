import type { Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import { DEFAULT_QUEUE, queueOf } from '../defineTask.ts';
import { readJobView, type JobView } from '../client/jobView.ts';
import { DEFAULT_PREFIX } from '../store/taskpoolKeys.ts';
import { checkClusterPrefix, createRedisConnection } from '../redisConnection.ts';
import type { WorkerInfo } from '../workerInfo.ts';
import { cancelTask } from '../client/cancelTask.ts';
import { keepPolicy, type KeepPolicy } from '../client/jobOptions.ts';
import { queueCache } from '../client/queueCache.ts';
import { JobConflictError } from './jobConflictError.ts';
import { countJobsByTask, type QueueTaskCounts } from './countJobsByTask.ts';
import { listWorkers } from '../store/workerRegistry.ts';
import { jobExists } from '../store/jobReads.ts';
import { retryFailedJobs, retryJob } from './retryJob.ts';
import { searchJobs, type JobQuery, type JobSummary } from '../store/searchJobs.ts';
import { submitBatch, type BatchJob, type BatchJobOptions } from './submitBatch.ts';
import type { CheckedInputs } from '../checkedInputs.ts';
import { DEFAULT_MAX_JOB_BYTES } from '../store/jobData.ts';
import { watchConnection, type ConnectionWatch } from '../client/connectionWatch.ts';
import { DEFAULT_SUBMIT_RETRY_MS, failOnDisconnect } from '../client/retryOnDisconnect.ts';
import { createObjectAccess, type ObjectOptions } from '../objects/objectAccess.ts';
import { ownedObjectCount } from '../store/objectOwners.ts';

/** Options of {@link createAdmin}. */
export interface AdminOptions {
  /** As `ClientOptions.redisUrl` (a `redis-cluster://` address for a Redis Cluster). */
  redisUrl: string;
  /** BullMQ key prefix. Default: `'taskpool'`. */
  prefix?: string;
  /** The queues to inspect. Default: `['default']`. */
  queues?: string[];
  /** How long finished jobs are kept, as the client's option of that name. Default: completed 24 h, failed 7 days. */
  keep?: { completedSeconds?: number; failedSeconds?: number };
  /** The most one job's data may take in Redis, as the client's option of that name. Default: 1 MiB. */
  maxJobBytes?: number;
  /**
   * How long `submitBatch` retries while Redis is unreachable before it throws `RedisUnavailableError`, as
   * the client's option of that name (0: no retry). Every other method throws it at once. Default: 5000 ms.
   */
  submitRetryMs?: number;
  /**
   * Objects by reference, as the clients' `objects` (`ClientOptions.objects`): where a submitted input too big to
   * carry goes (the claim check, over `inlineMaxBytes`), and the shared directory {@link TaskpoolAdmin.objectUsage}
   * counts. Default: Redis only, 64 KiB.
   */
  objects?: ObjectOptions;
}

/** How many objects by reference the deployment's stores hold, and their bytes (expired ones left out). */
export interface ObjectUsage {
  redis: { objects: number; bytes: number };
  /** How many of the objects (in either store) were made for jobs (claim-checked values, `ctx.put`) and go with them. */
  ownedByJobs: number;
  /** The shared directory's, when the admin was given one. */
  dir?: { objects: number; bytes: number };
}

/** What {@link TaskpoolAdmin.cancelJob} did: `removed` a job that had not started, or `signalled` the worker running it. */
export interface CancelOutcome {
  id: string;
  queue: string;
  outcome: 'removed' | 'signalled';
}

/** BullMQ's job counts of one queue. */
export interface QueueCounts {
  queue: string;
  counts: Record<'waiting' | 'active' | 'delayed' | 'prioritized' | 'failed' | 'completed', number>;
}

/**
 * Operations on jobs that someone other than their submitter performs: an operator, a dashboard, a CLI
 * (graphile-worker's `WorkerUtils`, Sidekiq's `Sidekiq::API`). Every method searches the known queues for the
 * job id (ids are UUIDs, unique across queues). While Redis is unreachable they throw `RedisUnavailableError`
 * (`submitBatch` after retrying for `submitRetryMs`).
 */
export interface TaskpoolAdmin {
  readonly prefix: string;
  /** The admin's own connection (fail-fast), for reads of your own. */
  readonly redis: RedisClient;
  /** The known queues, sorted. */
  readonly queueNames: readonly string[];
  /** How long `submitBatch` retries while Redis is unreachable (`AdminOptions.submitRetryMs`). */
  readonly submitRetryMs: number;
  /** The BullMQ queue of that name (e.g. for Bull Board). */
  queue(name: string): Queue;
  getJob(jobId: string): Promise<JobView | undefined>;
  /** Puts a failed job back to waiting (see `retryJob.ts`); undefined if there is no such job. @throws JobConflictError */
  retryJob(jobId: string): Promise<JobView | undefined>;
  /** Retries every failed job of a task in its queue; returns how many. */
  retryFailed(task: string, queue: string): Promise<number>;
  /**
   * Cancels a job as `handle.cancel()` does (`client/cancelTask.ts`); undefined if there is no such job.
   * @throws JobConflictError when it has already finished.
   */
  cancelJob(jobId: string): Promise<CancelOutcome | undefined>;
  /**
   * Enqueues inputs that `checkInputs(task, inputs)` checked, in one round trip, with the client's job options
   * (the task's defaults, overridden by `options`: attempts, backoff, priority, timeoutMs, delayMs) and
   * idempotent ids (see `submitBatch.ts`). @throws IdempotencyConflictError, PayloadTooLargeError
   */
  submitBatch(inputs: CheckedInputs, idempotencyKeys?: readonly string[], options?: BatchJobOptions): Promise<BatchJob[]>;
  /** Jobs matching a query (by id: that job), across the known queues, newest first per state. */
  searchJobs(query: JobQuery & { id?: string }): Promise<{ jobs: JobSummary[]; truncated: boolean }>;
  /** BullMQ's per-queue counts. */
  queueCounts(): Promise<QueueCounts[]>;
  /** Per-task counts and failure groups, per queue (see `countJobsByTask.ts`). */
  taskCounts(): Promise<QueueTaskCounts[]>;
  /** Workers whose heartbeat is fresh. */
  workers(): Promise<WorkerInfo[]>;
  /** The objects by reference in Redis and in the shared directory, and their bytes (see `client.put`). */
  objectUsage(): Promise<ObjectUsage>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Opens an admin on one fail-fast (producer-role) connection. */
export function createAdmin(options: AdminOptions): TaskpoolAdmin {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  checkClusterPrefix(options.redisUrl, prefix);
  const redis = createRedisConnection(options.redisUrl, 'producer');
  const connection = watchConnection(redis);
  const names = [...new Set(options.queues ?? [DEFAULT_QUEUE])].sort();
  const keep: KeepPolicy = keepPolicy(options.keep);
  const maxJobBytes = options.maxJobBytes ?? DEFAULT_MAX_JOB_BYTES;
  const submitRetryMs = options.submitRetryMs ?? DEFAULT_SUBMIT_RETRY_MS;
  if (!Number.isFinite(submitRetryMs) || submitRetryMs < 0) throw new RangeError(`createAdmin: submitRetryMs must be a number >= 0, got ${submitRetryMs}`);
  const queue = queueCache(redis, prefix);
  const objectWriter = createObjectAccess(redis, prefix, options.objects);
  /** The first known queue holding the job, by one EXISTS per queue. */
  const locate = async (jobId: string): Promise<Queue | undefined> => {
    for (const name of names) {
      const q = queue(name);
      if (await jobExists(redis, q.toKey(jobId))) return q;
    }
    return undefined;
  };
  const close = async (): Promise<void> => {
    await queue.closeAll();
    await redis.quit().catch(() => redis.disconnect());
  };

  const admin: TaskpoolAdmin = {
    prefix,
    redis,
    queueNames: names,
    submitRetryMs,
    queue,
    async getJob(jobId) {
      const q = await locate(jobId);
      return q && readJobView(q, redis, prefix, jobId);
    },
    async retryJob(jobId) {
      const q = await locate(jobId);
      if (!q || !(await retryJob(q, redis, jobId))) return undefined;
      return readJobView(q, redis, prefix, jobId);
    },
    retryFailed: (task, name) => retryFailedJobs(queue(name), redis, task),
    async cancelJob(jobId) {
      const q = await locate(jobId);
      if (!q) return undefined;
      const result = await cancelTask(q, redis, { jobId, prefix, markerTtlSeconds: keep.failedSeconds });
      if (result === 'missing') return undefined;
      if (result === 'completed' || result === 'failed') {
        throw new JobConflictError(jobId, result, `Job ${jobId} has already ${result}: nothing to cancel`);
      }
      return { id: jobId, queue: q.name, outcome: result };
    },
    submitBatch: (inputs, idempotencyKeys, jobOptions) =>
      submitBatch(queue(queueOf(inputs.task)), redis, { inputs, idempotencyKeys, options: jobOptions, keep, maxJobBytes, objects: objectWriter, retry: { forMs: submitRetryMs, connection } }),
    async searchJobs(query) {
      if (query.id !== undefined) {
        const view = await this.getJob(query.id);
        const found = view && (query.task === undefined || view.task === query.task) && (query.state === undefined || view.state === query.state);
        return { jobs: found ? [summaryOf(view)] : [], truncated: false };
      }
      const limit = query.limit ?? 50;
      const jobs: JobSummary[] = [];
      let truncated = false;
      for (const name of names) {
        if (jobs.length >= limit) break;
        const found = await searchJobs(queue(name), redis, { ...query, limit: limit - jobs.length });
        jobs.push(...found.jobs);
        truncated ||= found.truncated;
      }
      return { jobs, truncated };
    },
    async queueCounts() {
      return Promise.all(
        names.map(async (name) => {
          const counts = await queue(name).getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed');
          return { queue: name, counts: counts as QueueCounts['counts'] };
        }),
      );
    },
    taskCounts: () => Promise.all(names.map((name) => countJobsByTask(redis, { prefix, queue: name, failedWindowMs: keep.failedSeconds * 1000 }))),
    workers: () => listWorkers(redis, prefix),
    async objectUsage() {
      const [[inRedis, inDir], ownedByJobs] = await Promise.all([Promise.all(objectWriter.stores.map((store) => store.usage())), ownedObjectCount(redis, prefix)]);
      return { redis: inRedis!, ownedByJobs, ...(inDir && { dir: inDir }) };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return typedDisconnects(admin, connection);
}

/**
 * The admin with every method that reads or writes Redis rejecting with `RedisUnavailableError` on a
 * connection error, or at once while its connection is down; but `submitBatch`, which retries first.
 */
function typedDisconnects(admin: TaskpoolAdmin, connection: ConnectionWatch): TaskpoolAdmin {
  const typed = <A extends unknown[], R>(method: (...args: A) => Promise<R>) => (...args: A): Promise<R> => failOnDisconnect(() => method.apply(admin, args), connection);
  return {
    ...admin,
    getJob: typed(admin.getJob),
    retryJob: typed(admin.retryJob),
    retryFailed: typed(admin.retryFailed),
    cancelJob: typed(admin.cancelJob),
    submitBatch: (...args) => failOnDisconnect(() => admin.submitBatch(...args)),
    searchJobs: typed(admin.searchJobs),
    queueCounts: typed(admin.queueCounts),
    taskCounts: typed(admin.taskCounts),
    workers: typed(admin.workers),
    objectUsage: typed(admin.objectUsage),
  };
}

function summaryOf(view: JobView): JobSummary {
  const summary: JobSummary = { id: view.id, task: view.task, queue: view.queue, state: view.state, attempts: view.attempts, createdAt: view.createdAt };
  if (view.finishedAt !== undefined) summary.finishedAt = view.finishedAt;
  if (view.error) {
    const { name, message, code, reason } = view.error;
    summary.error = { name, message, ...(code !== undefined && { code }), ...(reason !== undefined && { reason }) };
  }
  return summary;
}
