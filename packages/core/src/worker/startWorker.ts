import { randomUUID } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { queueOf } from '../defineTask.ts';
import { DEFAULT_PREFIX, jobKey, writeJobError } from '../jobRecord.ts';
import { loadTaskModule } from '../loadTaskModule.ts';
import { createRedisConnection } from '../redisConnection.ts';
import { serializeError, type SerializedError } from '../serializeError.ts';
import { AttemptFailure } from './attemptFailure.ts';
import { SandboxPool } from './sandboxPool.ts';

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  redisUrl: string;
  /** Path of the task module (every exported `defineTask` is served). */
  tasksModule: string;
  logger: Logger;
  /** BullMQ key prefix. Default: `'taskpool'`. */
  prefix?: string;
  /** Sandbox processes. Default: one per CPU (`os.availableParallelism()`). */
  concurrency?: number;
  /** Queues to serve. Default: every queue the module's tasks name. */
  queues?: string[];
  /** On close, how long running tasks may take to finish before they are put back to waiting. Default: 30 000 ms. */
  shutdownGraceMs?: number;
}

/** A running worker instance. */
export interface TaskpoolWorker {
  readonly id: string;
  readonly queues: readonly string[];
  readonly concurrency: number;
  /** Pids of the live sandbox processes. */
  readonly sandboxPids: number[];
  /** Stops fetching, lets running tasks finish within the grace period, requeues the rest, stops the sandboxes. */
  close(): Promise<void>;
  /** For `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a worker instance: a pool of sandbox processes fed by one BullMQ Worker per queue.
 * The supervising process only moves messages and renews locks, so CPU-bound handlers never stall a job.
 */
export async function startWorker(options: StartWorkerOptions): Promise<TaskpoolWorker> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const concurrency = options.concurrency ?? availableParallelism();
  const shutdownGraceMs = options.shutdownGraceMs ?? 30_000;
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const logger = options.logger.child({ component: 'worker', workerId: id });

  const mod = await loadTaskModule(options.tasksModule);
  const queues = options.queues ?? [...new Set([...mod.tasks.values()].map(queueOf))];
  const pool = new SandboxPool({ size: concurrency, modulePath: mod.path, logger });
  await pool.start();

  const redis = createRedisConnection(options.redisUrl, 'worker', logger);
  let requeueOnFailure = false;

  const processor = async (job: Job, token?: string): Promise<unknown> => {
    const jobId = job.id ?? '';
    const attempt = job.attemptsMade + 1;
    const log = logger.child({ jobId, task: job.name, attempt });
    if (!mod.tasks.has(job.name)) {
      const error = serializeError(Object.assign(new Error(`Unknown task ${job.name}`), { code: 'UNKNOWN_TASK' }));
      await writeJobError(redis, jobKey(prefix, job.queueName, jobId), { ...error, reason: 'invalid' });
      log.error({ event: 'job:fail', reason: 'invalid' }, error.message);
      throw new UnrecoverableError(error.message);
    }
    const sandbox = await pool.acquire();
    const started = performance.now();
    log.info({ event: 'job:start', sandboxPid: sandbox.pid });
    try {
      const output = await sandbox.run({
        task: job.name,
        input: job.data,
        jobId,
        attempt,
        onProgress: (value) => void job.updateProgress(value).catch(() => undefined),
      });
      log.info({ event: 'job:done', durationMs: Math.round(performance.now() - started), sandboxPid: sandbox.pid });
      return output;
    } catch (error) {
      const failure = error instanceof AttemptFailure ? error.serialized : { ...serializeError(error), reason: 'error' as const };
      const durationMs = Math.round(performance.now() - started);
      if (requeueOnFailure && token) {
        await job.moveToWait(token);
        log.warn({ event: 'job:requeued', durationMs }, 'Shutdown grace period over: task put back to waiting');
        throw new WaitingError();
      }
      await writeJobError(redis, jobKey(prefix, job.queueName, jobId), failure);
      log.warn({ event: 'job:fail', reason: failure.reason, durationMs, sandboxPid: sandbox.pid, err: failure }, failure.message);
      throw toBullError(failure);
    } finally {
      pool.release(sandbox);
    }
  };

  const workers = queues.map(
    (queue) =>
      new Worker(queue, processor, {
        connection: redis,
        prefix,
        concurrency,
        name: id,
      }),
  );
  for (const worker of workers) {
    worker.on('error', (err) => logger.error({ event: 'worker:error', err }, 'BullMQ worker error'));
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info({ event: 'worker:ready', queues, concurrency, prefix, sandboxPids: pool.pids, tasks: [...mod.tasks.keys()] });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info({ event: 'worker:shutdown', graceMs: shutdownGraceMs, busy: pool.busyCount });
      const finished = Promise.all(workers.map((w) => w.close()));
      const timer = setTimeout(() => {
        requeueOnFailure = true;
        logger.warn({ event: 'worker:grace-expired', busy: pool.busyCount });
        pool.killAll();
      }, shutdownGraceMs);
      // If Redis is gone, BullMQ's close never finishes: after the grace period and 5 s more, force it.
      let force: NodeJS.Timeout | undefined;
      const forced = new Promise<void>((resolve) => {
        force = setTimeout(() => {
          logger.error({ event: 'worker:close-forced' }, 'Could not close cleanly (is Redis reachable?): forcing');
          void Promise.all(workers.map((w) => w.close(true))).catch(() => undefined);
          redis.disconnect();
          resolve();
        }, shutdownGraceMs + 5_000);
      });
      await Promise.race([finished, forced]);
      clearTimeout(timer);
      clearTimeout(force);
      await pool.close();
      await redis.quit().catch(() => redis.disconnect());
      logger.info({ event: 'worker:stopped' });
    })();
    return closing;
  };

  return {
    id,
    queues,
    concurrency,
    get sandboxPids() {
      return pool.pids;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The error BullMQ records: the remote message and stack; invalid input or output is never retried. */
function toBullError(failure: SerializedError): Error {
  const error = failure.reason === 'invalid' ? new UnrecoverableError(failure.message) : new Error(failure.message);
  if (failure.reason !== 'invalid') error.name = failure.name;
  if (failure.stack) error.stack = failure.stack;
  return error;
}
