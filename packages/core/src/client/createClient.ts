import { randomUUID } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import { DEFAULT_QUEUE, queueOf, type AnyTask, type TaskDefaults, type TaskInput, type TaskOutput } from '../defineTask.ts';
import { DEFAULT_PREFIX } from '../jobRecord.ts';
import { parseTaskInput } from '../parseTaskIO.ts';
import { createRedisConnection } from '../redisConnection.ts';
import { CompletionWatcher } from './completionWatcher.ts';
import { readJobView, type JobView } from './jobView.ts';
import { TaskHandle } from './taskHandle.ts';

/** Options of {@link createClient}. */
export interface ClientOptions {
  redisUrl: string;
  /** BullMQ key prefix; workers must use the same. Default: `'taskpool'`. */
  prefix?: string;
  /** Queues `getJob` searches besides those this client sent to. Default: `['default']`. */
  queues?: string[];
  /** How often awaited jobs are re-read from Redis in case an event was missed. Default: 1000 ms. */
  sweepMs?: number;
  /** How long finished jobs are kept. Default: completed 24 h, failed 7 days. */
  keep?: { completedSeconds?: number; failedSeconds?: number };
}

/** Per-submit overrides of a task's defaults. */
export interface SubmitOptions extends Omit<TaskDefaults, 'queue'> {
  /** Run no sooner than this many ms from now. Default: 0. */
  delayMs?: number;
}

/** Submits tasks and reads their jobs. */
export interface TaskpoolClient {
  /** Validates the input (nothing is written to Redis if it is invalid), enqueues it, and returns a handle. */
  submit<T extends AnyTask>(task: T, input: TaskInput<T>, options?: SubmitOptions): Promise<TaskHandle<TaskOutput<T>>>;
  /** A handle for a job submitted earlier (by any client). */
  handle<T extends AnyTask>(task: T, jobId: string): TaskHandle<TaskOutput<T>>;
  /** A job's view, searched in every known queue. */
  getJob(jobId: string): Promise<JobView | undefined>;
  /** Closes every connection. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates a client. Its connections fail fast when Redis is away (no offline queue). */
export function createClient(options: ClientOptions): TaskpoolClient {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const redis = createRedisConnection(options.redisUrl, 'producer');
  const queues = new Map<string, Queue>();
  const searched = new Set([DEFAULT_QUEUE, ...(options.queues ?? [])]);
  const keepCompleted = options.keep?.completedSeconds ?? 24 * 3600;
  const keepFailed = options.keep?.failedSeconds ?? 7 * 24 * 3600;

  const queue = (name: string): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: redis, prefix });
      queues.set(name, q);
      searched.add(name);
    }
    return q;
  };
  const watcher = new CompletionWatcher({
    prefix,
    redis,
    queue,
    connect: () => createRedisConnection(options.redisUrl, 'worker'),
    ...(options.sweepMs !== undefined && { sweepMs: options.sweepMs }),
  });
  const host = { watcher, view: (q: string, id: string) => readJobView(queue(q), redis, prefix, id) };

  const close = async (): Promise<void> => {
    await watcher.close();
    await Promise.all([...queues.values()].map((q) => q.close()));
    await redis.quit().catch(() => redis.disconnect());
  };

  return {
    async submit<T extends AnyTask>(task: T, input: TaskInput<T>, submitOptions: SubmitOptions = {}) {
      parseTaskInput(task, input);
      const name = queueOf(task);
      const jobId = randomUUID();
      await queue(name).add(task.name, input, jobOptions(task.defaults, submitOptions, jobId, { keepCompleted, keepFailed }));
      return new TaskHandle<TaskOutput<T>>(jobId, task, name, host);
    },
    handle<T extends AnyTask>(task: T, jobId: string) {
      return new TaskHandle<TaskOutput<T>>(jobId, task, queueOf(task), host);
    },
    async getJob(jobId: string) {
      for (const name of searched) {
        const view = await readJobView(queue(name), redis, prefix, jobId);
        if (view) return view;
      }
      return undefined;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function jobOptions(
  defaults: TaskDefaults,
  overrides: SubmitOptions,
  jobId: string,
  keep: { keepCompleted: number; keepFailed: number },
): JobsOptions {
  const backoff = overrides.backoff ?? defaults.backoff ?? { type: 'exponential', delayMs: 1_000 };
  const priority = overrides.priority ?? defaults.priority;
  return {
    jobId,
    attempts: overrides.attempts ?? defaults.attempts ?? 1,
    backoff: { type: backoff.type, delay: backoff.delayMs },
    ...(priority !== undefined && { priority }),
    ...(overrides.delayMs !== undefined && { delay: overrides.delayMs }),
    removeOnComplete: { age: keep.keepCompleted },
    removeOnFail: { age: keep.keepFailed },
  };
}
