import { randomUUID } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { Worker } from 'bullmq';
import { isolationOf, queueOf, type AnyTask, type Isolation } from '../defineTask.ts';
import { ConfigError, TaskModuleError } from '../errors.ts';
import { DEFAULT_PREFIX } from '../store/taskpoolKeys.ts';
import { loadTaskModule } from '../loadTaskModule.ts';
import { checkClusterPrefix, connectionReady, createRedisConnection } from '../redisConnection.ts';
import { CountedFlowProducer } from '../store/countedQueue.ts';
import { CancelBook } from './cancelBook.ts';
import { listenForCancels } from './cancelListener.ts';
import { countJobMoves } from './countJobMoves.ts';
import { keepGates } from './gateKeeper.ts';
import { DEFAULT_PRIORITY_AGING_MS, startPriorityAging } from './priorityAger.ts';
import { DEFAULT_PIPELINE_DEPTH, DEFAULT_PREFETCH, DEFAULT_PREFETCH_MAX_TASK_MS, PrefetchGovernor } from './prefetchGovernor.ts';
import { createJobProcessor } from './jobProcessor.ts';
import { recheckStalledOnReconnect } from './recheckStalledOnReconnect.ts';
import { sandboxHeapLimitMb } from './memoryCap.ts';
import { SandboxPool } from './sandboxPool.ts';
import type { SelfFetch } from './sandboxProcess.ts';
import type { ServeConfig } from './sandboxProtocol.ts';
import { SelfFetchSupervisor } from './selfFetchSupervisor.ts';
import { BULLMQ_MAX_STALLED_COUNT, createStalledFailures, DEFAULT_MAX_STALLS } from './stalledFailure.ts';
import { InlineExecutor } from './inlineExecutor.ts';
import { LeanWorker } from './leanWorker.ts';
import { ObjectCache } from './objectCache.ts';
import { createObjectAccess, DEFAULT_INLINE_MAX_BYTES, DEFAULT_MAX_OBJECT_BYTES } from '../objects/objectAccess.ts';
import { DEFAULT_LOCK_DURATION_MS, DEFAULT_STALLED_INTERVAL_MS, type StartWorkerOptions, type TaskpoolWorker } from './workerOptions.ts';

export { DEFAULT_LOCK_DURATION_MS, DEFAULT_STALLED_INTERVAL_MS, type FetchMode, type StartWorkerOptions, type TaskpoolWorker } from './workerOptions.ts';
import type { Ref } from '../objects/objectRef.ts';
import { DEFAULT_OBJECT_SWEEP_MS, startObjectSweeper } from './objectSweeper.ts';
import { PartitionGuard } from './partitionGuard.ts';
import { startHeartbeat } from './workerHeartbeat.ts';
import { shutDown } from './workerShutdown.ts';

/**
 * Starts a worker instance: a pool of sandbox processes fed by one BullMQ Worker per queue.
 * The supervising process only moves messages and renews locks, so CPU-bound handlers never stall a job.
 */
export async function startWorker(options: StartWorkerOptions): Promise<TaskpoolWorker> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  checkClusterPrefix(options.redisUrl, prefix);
  const concurrency = options.concurrency ?? availableParallelism();
  const shutdownGraceMs = options.shutdownGraceMs ?? 30_000;
  const lockDuration = options.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS;
  const stalledInterval = options.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS;
  if (stalledInterval >= lockDuration) {
    throw new ConfigError(`stalledIntervalMs (${stalledInterval}) must be below lockDurationMs (${lockDuration})`);
  }
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const logger = options.logger.child({ component: 'worker', workerId: id });
  const startedAt = Date.now();

  const mod = await loadTaskModule(options.tasksModule);
  const queues = options.queues ?? [...new Set([...mod.tasks.values()].map(queueOf))];
  const limiters = rateLimitsByQueue(mod.tasks);
  const isolation = isolationByQueue(mod.tasks);
  // The stores `ctx.get` reads from and `ctx.put` writes to are the cache's writer, set once the Redis connection exists (below).
  const { cacheDir, cacheMaxBytes, sweepMs = DEFAULT_OBJECT_SWEEP_MS, sweepGraceMs, ...objectOptions } = options.objects ?? {};
  const objects = new ObjectCache({
    logger,
    ...(cacheDir !== undefined && { dir: cacheDir }),
    ...(cacheMaxBytes !== undefined && { maxBytes: cacheMaxBytes }),
    inlineMaxBytes: objectOptions.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES,
    maxObjectBytes: objectOptions.maxBytes ?? DEFAULT_MAX_OBJECT_BYTES,
  });
  const inline = new InlineExecutor(mod.tasks, objects.taskObjects());
  const inlineConcurrency = options.inlineConcurrency ?? 100;
  const modes = new Set(queues.map((queue) => isolation.get(queue) ?? 'process'));
  const killGraceMs = options.killGraceMs ?? 1_000;
  const limits = {
    killGraceMs,
    quarantineAfterCrashes: options.quarantineAfterCrashes ?? 3,
    maxStalls: options.maxStalls ?? DEFAULT_MAX_STALLS,
  };
  // `fetch: 'sandbox'`: the sandboxes take the jobs of the `process` queues themselves (see selfFetchSupervisor.ts).
  const selfFetched = options.fetch === 'sandbox' ? queues.filter((queue) => (isolation.get(queue) ?? 'process') === 'process') : [];
  const fetchedHere = queues.filter((queue) => !selfFetched.includes(queue));
  let supervision: SelfFetchSupervisor | undefined;
  const selfFetch = (): SelfFetch | undefined => {
    if (selfFetched.length === 0) return undefined;
    const config: ServeConfig = {
      redisUrl: options.redisUrl,
      prefix,
      workerId: id,
      queues: selfFetched,
      lockDurationMs: lockDuration,
      quarantineAfterCrashes: limits.quarantineAfterCrashes,
      maxStalls: limits.maxStalls,
      ...(options.maxTasksPerProcess !== undefined && { maxTasks: options.maxTasksPerProcess }),
      limiters: Object.fromEntries(selfFetched.flatMap((queue) => (limiters.has(queue) ? [[queue, limiters.get(queue)!]] : []))),
      logLevel: options.logger.level,
    };
    return {
      config,
      killGraceMs,
      ...(options.maxMemoryMb !== undefined && { maxRssMb: options.maxMemoryMb }),
      onHeld: (sandbox, job) => supervision?.onHeld(sandbox, job),
      onReleased: (sandbox, job, outcome) => supervision?.onReleased(sandbox, job, outcome),
      onLost: (sandbox, job, failure) => supervision?.onLost(sandbox, job, failure),
      onDied: (sandbox, owners, failure) => supervision?.onDied(sandbox, owners, failure),
    };
  };
  const poolOf = (kind: 'process' | 'thread'): SandboxPool =>
    new SandboxPool({
      size: concurrency,
      modulePath: mod.path,
      logger,
      isolation: kind,
      objects,
      // Processes: the cap is on RSS, V8's heap limit above it (see memoryCap.ts); threads: the heap limit is the cap.
      ...(options.maxMemoryMb !== undefined && { maxMemoryMb: options.maxMemoryMb, execArgv: [`--max-old-space-size=${sandboxHeapLimitMb(options.maxMemoryMb)}`] }),
      ...(options.sandboxExecPath !== undefined && { execPath: options.sandboxExecPath }),
      ...(options.maxTasksPerProcess !== undefined && { maxTasksPerProcess: options.maxTasksPerProcess }),
      ...(options.maxRssMbPerProcess !== undefined && { maxRssMbPerProcess: options.maxRssMbPerProcess }),
      ...(kind === 'process' && selfFetched.length > 0 && { selfFetch: selfFetch()! }),
    });
  // Sandboxes only for the isolations the served queues use.
  const pools = { process: modes.has('process') ? poolOf('process') : undefined, thread: modes.has('thread') ? poolOf('thread') : undefined };
  const started = [pools.process, pools.thread].filter((p): p is SandboxPool => p !== undefined);
  // Self-fetching sandboxes fetch as soon as they start: their pool starts once cancels are heard (below).
  const selfFetching = selfFetched.length > 0 ? pools.process : undefined;
  await Promise.all(started.filter((p) => p !== selfFetching).map((p) => p.start()));

  // taskpool's own calls (counts, cancel flags, heartbeat) and BullMQ's objects use a connection each: BullMQ defines
  // its Lua commands (64) on the connection it is given, and ioredis copies them into every pipeline made on that
  // connection (~100 µs each; taskpool pipelines several times per job). See docs/architecture.md.
  const redis = createRedisConnection(options.redisUrl, 'worker', logger);
  const queueRedis = createRedisConnection(options.redisUrl, 'worker', logger);
  const objectWriter = createObjectAccess(redis, prefix, objectOptions);
  objects.writer = objectWriter;
  // Objects made for jobs go once their jobs are removed: one worker at a time sweeps.
  const sweeper = startObjectSweeper(redis, prefix, objectWriter.stores, { everyMs: sweepMs, logger, ...(sweepGraceMs !== undefined && { graceMs: sweepGraceMs }) });
  await Promise.all([connectionReady(redis), connectionReady(queueRedis)]);
  const flows = new CountedFlowProducer({ connection: queueRedis, counts: redis, prefix });
  flows.on('error', (err) => logger.error({ event: 'worker:error', err }, 'BullMQ flow producer error'));
  const cancels = new CancelBook(redis, logger);
  // Subscribed (and confirmed) before any worker fetches: no cancel published from now on is missed.
  const cancelListener = await listenForCancels(redis, cancels, logger, { prefix, workerId: id });
  const counts = { done: 0, failed: 0 };
  let requeueOnFailure = false;
  // What the processors and the supervisor of self-fetching sandboxes share.
  const bookkeeping = {
    tasks: mod.tasks,
    redis,
    queueRedis,
    prefix,
    flows,
    logger,
    cancels,
    counts,
    requeueOnFailure: () => requeueOnFailure,
    getObject: (ref: Ref) => objects.read(ref),
  };
  if (selfFetching) {
    supervision = new SelfFetchSupervisor({
      ...bookkeeping,
      limits,
      queues: selfFetched,
      workerId: id,
      lockDurationMs: lockDuration,
      stalledIntervalMs: stalledInterval,
    });
    supervision.pool = selfFetching;
    await supervision.start();
    await selfFetching.start();
  }
  // The RSS cap samples a process: it holds for sandbox processes only (a thread's cap is V8's heap limit).
  // Each pool's queues prefetch while its tasks are short (see prefetchGovernor.ts); set once the workers exist.
  const governors: Partial<Record<'process' | 'thread', PrefetchGovernor>> = {};
  const processorFor = (executor: SandboxPool | InlineExecutor, capRss: boolean, mode?: 'process' | 'thread') => createJobProcessor({
    ...bookkeeping,
    pool: executor,
    limits: { ...limits, ...(capRss && options.maxMemoryMb !== undefined && { maxRssMb: options.maxMemoryMb }) },
    ...(mode && { ran: (ms: number) => governors[mode]?.ran(ms) }),
  });
  // Jobs in a processor now (fetched, waiting for a sandbox or running): close() waits for BullMQ only while there are some.
  let inFlight = 0;
  const counted = (processor: ReturnType<typeof processorFor>): typeof processor => async (job, token) => {
    inFlight++;
    try {
      return await processor(job, token);
    } finally {
      inFlight--;
    }
  };
  const processors: Record<Isolation, ReturnType<typeof processorFor>> = {
    process: counted(processorFor(pools.process ?? inline, true, 'process')),
    thread: counted(processorFor(pools.thread ?? inline, false, 'thread')),
    inline: counted(processorFor(inline, false)),
  };

  const workers = fetchedHere.map((queue) => {
    const limiter = limiters.get(queue);
    const mode = isolation.get(queue) ?? 'process';
    const workerOptions = {
      connection: queueRedis,
      prefix,
      concurrency: mode === 'inline' ? inlineConcurrency : concurrency,
      name: id,
      ...(limiter && { limiter: { max: limiter.max, duration: limiter.durationMs } }),
      lockDuration,
      stalledInterval,
      // Our own stall budget applies, in the processor (see stalledFailure.ts).
      maxStalledCount: BULLMQ_MAX_STALLED_COUNT,
    };
    return options.leanLane === false ? new Worker(queue, processors[mode], workerOptions) : new LeanWorker(queue, processors[mode], workerOptions, { redis: queueRedis, prefix });
  });
  const prefetch = options.prefetch ?? DEFAULT_PREFETCH;
  for (const mode of ['process', 'thread'] as const) {
    const served = workers.filter((_, i) => (isolation.get(fetchedHere[i]!) ?? 'process') === mode);
    const pool = pools[mode];
    const pipelineDepth = options.pipelineDepth ?? DEFAULT_PIPELINE_DEPTH;
    if (pool && served.length > 0 && (prefetch > 0 || pipelineDepth > 1)) {
      governors[mode] = new PrefetchGovernor(served, {
        poolSize: concurrency,
        prefetch,
        maxTaskMs: options.prefetchMaxTaskMs ?? DEFAULT_PREFETCH_MAX_TASK_MS,
        pipelineDepth,
        pool,
      });
    }
  }
  recheckStalledOnReconnect(queueRedis, [...workers, ...(supervision?.workers ?? [])], logger);
  // A pool that can start no sandbox pauses its queues' workers (a job they hold goes back to waiting, see
  // jobProcessor.ts) until one starts; the heartbeat says so at once.
  let shuttingDown = false;
  const pauseWhileUnhealthy = (pool: SandboxPool, mode: Isolation): void => {
    const served = workers.filter((_, i) => (isolation.get(fetchedHere[i]!) ?? 'process') === mode);
    const follow = (healthy: boolean): void => {
      for (const worker of served) {
        if (healthy) void worker.resume();
        else void worker.pause(true).catch((err: unknown) => logger.error({ event: 'worker:error', err }, 'Could not pause a BullMQ worker'));
      }
    };
    let healthy = pool.health.healthy;
    if (!healthy) follow(false);
    pool.onHealthChange((health) => {
      if (health.healthy !== healthy && !shuttingDown) follow((healthy = health.healthy));
    });
  };
  if (pools.process) pauseWhileUnhealthy(pools.process, 'process');
  if (pools.thread) pauseWhileUnhealthy(pools.thread, 'thread');
  // Cut off from Redis for longer than the lock, the worker stops and drops its jobs (see partitionGuard.ts).
  const guard = new PartitionGuard({ lockDurationMs: lockDuration, cancels, logger });
  if (supervision) supervision.guard = guard;
  const stalled = createStalledFailures({ tasks: mod.tasks, redis, prefix, flows, logger, counts });
  const moves = workers.map((worker) => countJobMoves(worker, { redis, prefix, logger }));
  const aging = startPriorityAging({ redis, prefix, queues, agingMs: options.priorityAgingMs ?? DEFAULT_PRIORITY_AGING_MS, logger });
  const gates = keepGates(workers, { queues, tasks: mod.tasks, redis, queueConnection: queueRedis, prefix, logger });
  for (const worker of workers) {
    worker.on('error', (err) => guard.workerError(err) || logger.error({ event: 'worker:error', err }, 'BullMQ worker error'));
    worker.on('locksRenewed', () => guard.contact());
    worker.on('failed', (job) => {
      stalled.recordDeferred(job).catch((err: unknown) => logger.error({ event: 'worker:error', err, jobId: job?.id }, 'Could not record a stalled job'));
    });
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const heartbeat = startHeartbeat(redis, prefix, started, { id, queues, concurrency, startedAt, counts, onWritten: () => guard.contact() }, logger);
  guard.start(() => heartbeat.beatNow());
  let lastHealthy = started.every((p) => p.health.healthy);
  for (const pool of started) {
    pool.onHealthChange(() => {
      const healthy = started.every((p) => p.health.healthy);
      if (healthy !== lastHealthy) heartbeat.beatNow();
      lastHealthy = healthy;
    });
  }
  logger.info({ event: 'worker:ready', queues, concurrency, prefix, sandboxPids: started.flatMap((p) => p.pids), tasks: [...mod.tasks.keys()], healthy: lastHealthy });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      guard.stop();
      sweeper.stop();
      await shutDown({
        logger,
        shutdownGraceMs,
        workers,
        pools: started,
        ...(selfFetching && { selfFetching }),
        ...(supervision && { supervision }),
        holding: () => inFlight + (selfFetching?.busyCount ?? 0),
        onGraceExpired: () => (requeueOnFailure = true),
        lastCalls: () => [cancelListener.stop(), heartbeat.stop(), flows.close(), supervision?.close(), gates.stop(), aging.stop(), ...moves.map((m) => m.flush())],
        connections: [redis, queueRedis],
      });
    })();
    return closing;
  };

  return {
    id,
    queues,
    concurrency,
    get sandboxPids() {
      return started.flatMap((p) => p.pids);
    },
    get sandboxesStarted() {
      return started.reduce((sum, p) => sum + p.started, 0);
    },
    get healthy() {
      return started.every((p) => p.health.healthy);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Each queue's rate limit, from its tasks' defaults; two different limits on one queue are an error. */
function rateLimitsByQueue(tasks: ReadonlyMap<string, AnyTask>): Map<string, { max: number; durationMs: number }> {
  const limits = new Map<string, { max: number; durationMs: number }>();
  for (const task of tasks.values()) {
    const limit = task.defaults.rateLimit;
    if (!limit) continue;
    const queue = queueOf(task);
    const seen = limits.get(queue);
    if (seen && (seen.max !== limit.max || seen.durationMs !== limit.durationMs)) {
      throw new TaskModuleError(`Queue ${queue} has two rate limits (task ${task.name}): BullMQ limits a whole queue; give the task its own queue`);
    }
    limits.set(queue, limit);
  }
  return limits;
}

/** Each queue's isolation, from its tasks; a queue mixing `process` and `inline` tasks is an error. */
function isolationByQueue(tasks: ReadonlyMap<string, AnyTask>): Map<string, Isolation> {
  const modes = new Map<string, Isolation>();
  for (const task of tasks.values()) {
    const queue = queueOf(task);
    const mode = isolationOf(task);
    const seen = modes.get(queue);
    if (seen && seen !== mode) throw new TaskModuleError(`Queue ${queue} mixes ${seen} and ${mode} tasks (task ${task.name}): give each isolation its own queue`);
    modes.set(queue, mode);
  }
  return modes;
}
