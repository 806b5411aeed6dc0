import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { TaskpoolError, type Logger } from '@taskpool/core';
import { findRedisServer, startLocalRedis, type LocalRedis } from './localRedis.ts';
import { describeExit, startChild, type Child, type Exit } from './startChild.ts';
import { isAlive } from './isAlive.ts';

/** What {@link startSystem} starts, and where. */
export interface StartSystemOptions {
  /** The repo root: the processes' working directory; `dataDir` and `tasksModule` are relative to it. */
  root: string;
  /** The producer's HTTP port; `0` picks a free one. */
  port: number;
  /** A Redis to use; when absent a redis-server from PATH is started with its data in `<dataDir>/redis`. */
  redisUrl?: string;
  dataDir: string;
  /** The task module both the worker and the producer load, e.g. `examples/tasks.ts`. */
  tasksModule: string;
  prefix: string;
  logLevel: string;
  logger: Logger;
  /** Writes a JSON log line of a started process. */
  relay(line: string): void;
  /** The environment the processes inherit; REDIS_URL, TASKPOOL_PREFIX, LOG_FORMAT and LOG_LEVEL are set over it. */
  env: Record<string, string | undefined>;
  /** How long the worker and the producer may take to be ready. Default: 60 s. */
  readyTimeoutMs?: number;
  /** Aborting it during the start stops what was started and rejects. */
  signal?: AbortSignal;
}

/** The process ids of everything {@link startSystem} started. */
export interface SystemPids {
  /** Absent when `redisUrl` was given. */
  redis?: number;
  worker: number;
  /** The worker's sandbox processes when it became ready. */
  sandboxes: number[];
  producer: number;
}

/** A process that ended on its own, before `stop()`. */
export interface Crash {
  name: string;
  exit: Exit;
}

/** The running system. */
export interface RunningSystem {
  /** The producer's base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  redisUrl: string;
  pids: SystemPids;
  /** Resolves if a process ends on its own (a crash); never once `stop()` was called. */
  crashed: Promise<Crash>;
  /** Stops the producer and the worker (SIGTERM, waiting for them), then the local Redis. Safe to call more than once. */
  stop(): Promise<void>;
}

/** The sentence printed when Redis is neither given nor installed. */
export const NO_REDIS_MESSAGE =
  'No redis-server on PATH: install one (`apt-get install redis-server` or `brew install redis`), or set REDIS_URL to a Redis you have.';

const WORKER_BIN = 'node_modules/.bin/taskpool-worker';
const PRODUCER_BIN = 'node_modules/.bin/taskpool-producer';
/** The worker finishes running tasks on SIGTERM (TASKPOOL_SHUTDOWN_GRACE_MS, default 30 s); past this it is killed. */
const WORKER_KILL_AFTER_MS = 45_000;
const PRODUCER_KILL_AFTER_MS = 10_000;
/** How often a running system checks that its redis-server is still there. */
const REDIS_CHECK_MS = 1_000;
/** The same while stopping, when a vanished Redis should cut the wait short. */
const REDIS_CHECK_WHILE_STOPPING_MS = 200;
/** How long the worker and the producer may take to stop once the local Redis is gone. */
const REDIS_GONE_GRACE_MS = 3_000;

/**
 * Starts Redis (unless given), a worker pool and the producer, and resolves once the producer serves and
 * the worker is ready. If anything fails on the way, what was started is stopped before the error is thrown.
 *
 * @throws TaskpoolError `REDIS_UNAVAILABLE` when no Redis is given and redis-server is not on PATH.
 */
export async function startSystem(options: StartSystemOptions): Promise<RunningSystem> {
  const { logger } = options;
  const redis = options.redisUrl === undefined ? await startRedis(options) : undefined;
  const redisUrl = options.redisUrl ?? redis!.url;

  const env = { ...options.env, REDIS_URL: redisUrl, TASKPOOL_PREFIX: options.prefix, LOG_FORMAT: 'json', LOG_LEVEL: options.logLevel };
  const common = { cwd: options.root, env, onLine: options.relay };
  const children: Child[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopAll(children, redis, logger);
    return stopping;
  };

  try {
    options.signal?.throwIfAborted();
    const worker = startChild({ ...common, name: 'worker', script: join(options.root, WORKER_BIN), args: ['--tasks', options.tasksModule] });
    children.push(worker);
    const producer = startChild({
      ...common,
      name: 'producer',
      script: join(options.root, PRODUCER_BIN),
      args: ['--tasks', options.tasksModule, '--port', String(options.port)],
    });
    children.push(producer);
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const [workerReady, producerReady] = await abortable(
      Promise.all([worker.waitForEvent('worker:ready', timeoutMs), producer.waitForEvent('producer:ready', timeoutMs)]),
      options.signal,
    );
    if (typeof producerReady.url !== 'string') throw new Error(`The producer's ready line has no url: ${JSON.stringify(producerReady)}`);
    const sandboxes = Array.isArray(workerReady.sandboxPids) ? workerReady.sandboxPids.filter((p): p is number => typeof p === 'number') : [];
    return {
      url: producerReady.url.replace(/\/$/, ''),
      redisUrl,
      pids: { ...(redis && { redis: redis.pid }), worker: worker.pid, sandboxes, producer: producer.pid },
      crashed: watchForCrash(children, redis, () => stopping !== undefined),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startRedis(options: StartSystemOptions): Promise<LocalRedis> {
  const redisServerPath = findRedisServer();
  if (redisServerPath === undefined) throw new TaskpoolError('REDIS_UNAVAILABLE', NO_REDIS_MESSAGE);
  const dir = resolve(options.root, options.dataDir, 'redis');
  const redis = await startLocalRedis({ dir, appendOnly: true, redisServerPath });
  options.logger.info({ event: 'redis:ready', url: redis.url, redisPid: redis.pid, dir }, 'Started redis-server');
  return redis;
}

/** Resolves when a child exits or the local redis-server disappears, unless the system is stopping. */
function watchForCrash(children: Child[], redis: LocalRedis | undefined, isStopping: () => boolean): Promise<Crash> {
  return new Promise((resolveCrash) => {
    for (const child of children) {
      void child.exited.then((exit) => {
        if (!isStopping()) resolveCrash({ name: child.name, exit });
      });
    }
    if (!redis) return;
    // startLocalRedis reports no exit; the process vanishing is the sign.
    const timer = setInterval(() => {
      if (isStopping()) return clearInterval(timer);
      if (!isAlive(redis.pid)) {
        clearInterval(timer);
        resolveCrash({ name: 'redis-server', exit: { code: null, signal: null } });
      }
    }, REDIS_CHECK_MS);
    timer.unref();
  });
}

async function stopAll(children: Child[], redis: LocalRedis | undefined, logger: Logger): Promise<void> {
  const killAfter = (child: Child): number => (child.name === 'worker' ? WORKER_KILL_AFTER_MS : PRODUCER_KILL_AFTER_MS);
  const stopped = Promise.all(
    children.map(async (child) => {
      const exit = await child.stop(killAfter(child));
      logger.debug({ event: 'process:stopped', process: child.name, childPid: child.pid, exit: describeExit(exit) });
    }),
  );
  // Without Redis a worker cannot finish its jobs nor close (it waits for Redis to come back), so once the
  // local redis-server is gone (it crashed, or a Ctrl-C reached it too) the rest get a short grace only;
  // jobs they had taken are put back by BullMQ's stalled-job check on the next start.
  const redisGone = redis ? watchRedisGone(redis.pid, stopped) : undefined;
  await stopped;
  await redisGone;
  await redis?.stop();

  async function watchRedisGone(pid: number, done: Promise<unknown>): Promise<void> {
    let finished = false;
    void done.then(() => (finished = true));
    const anyRunning = (): boolean => !finished && children.some((child) => child.isRunning());
    while (anyRunning() && isAlive(pid)) await Promise.race([done, delay(REDIS_CHECK_WHILE_STOPPING_MS)]);
    if (!anyRunning()) return;
    logger.warn({ event: 'redis:gone', redisPid: pid, graceMs: REDIS_GONE_GRACE_MS }, 'redis-server has exited; stopping the rest without it');
    await Promise.race([done, delay(REDIS_GONE_GRACE_MS)]);
    for (const child of children) child.kill();
  }
}

/** Rejects as soon as `signal` aborts; otherwise settles as `promise` does. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolvePromise, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

