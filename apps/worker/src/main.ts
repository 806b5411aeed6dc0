import { parseArgs } from 'node:util';
import { ConfigError, createLogger, exitOnSignals, runMain } from '@taskpool/core';
import { startWorker } from '@taskpool/core/worker';
import { loadWorkerEnv } from './env.ts';

const USAGE = `Usage: taskpool-worker --tasks <module> [--concurrency N] [--queues a,b] [--prefix P]
Env: REDIS_URL, TASKPOOL_TASKS, TASKPOOL_CONCURRENCY, TASKPOOL_QUEUES, TASKPOOL_PREFIX,
     TASKPOOL_SHUTDOWN_GRACE_MS, TASKPOOL_KILL_GRACE_MS, TASKPOOL_MAX_MEMORY_MB, TASKPOOL_MAX_TASKS_PER_PROCESS,
     TASKPOOL_MAX_RSS_MB_PER_PROCESS, TASKPOOL_QUARANTINE_AFTER_CRASHES, TASKPOOL_LOCK_DURATION_MS,
     TASKPOOL_STALLED_INTERVAL_MS, TASKPOOL_MAX_STALLS, TASKPOOL_FETCH, TASKPOOL_PREFETCH, TASKPOOL_PREFETCH_MAX_TASK_MS,
     TASKPOOL_PIPELINE_DEPTH, TASKPOOL_LEAN_LANE, TASKPOOL_PRIORITY_AGING_MS,      LOG_LEVEL, LOG_FORMAT (see .env.example)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string' },
      concurrency: { type: 'string' },
      queues: { type: 'string' },
      prefix: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const env = loadWorkerEnv({
    TASKPOOL_TASKS: values.tasks,
    TASKPOOL_CONCURRENCY: values.concurrency,
    TASKPOOL_QUEUES: values.queues,
    TASKPOOL_PREFIX: values.prefix,
  });
  if (!env.TASKPOOL_TASKS) throw new ConfigError(`No task module: pass --tasks <module> or set TASKPOOL_TASKS.\n${USAGE}`);
  const logger = createLogger({ level: env.LOG_LEVEL, format: env.LOG_FORMAT, base: { service: 'worker' } });
  const worker = await startWorker({
    redisUrl: env.REDIS_URL,
    prefix: env.TASKPOOL_PREFIX,
    tasksModule: env.TASKPOOL_TASKS,
    logger,
    shutdownGraceMs: env.TASKPOOL_SHUTDOWN_GRACE_MS,
    killGraceMs: env.TASKPOOL_KILL_GRACE_MS,
    quarantineAfterCrashes: env.TASKPOOL_QUARANTINE_AFTER_CRASHES,
    lockDurationMs: env.TASKPOOL_LOCK_DURATION_MS,
    stalledIntervalMs: env.TASKPOOL_STALLED_INTERVAL_MS,
    maxStalls: env.TASKPOOL_MAX_STALLS,
    fetch: env.TASKPOOL_FETCH,
    prefetch: env.TASKPOOL_PREFETCH,
    prefetchMaxTaskMs: env.TASKPOOL_PREFETCH_MAX_TASK_MS,
    pipelineDepth: env.TASKPOOL_PIPELINE_DEPTH,
    leanLane: env.TASKPOOL_LEAN_LANE,
    priorityAgingMs: env.TASKPOOL_PRIORITY_AGING_MS,
    objects: {
      ...(env.TASKPOOL_OBJECT_CACHE_DIR !== undefined && { cacheDir: env.TASKPOOL_OBJECT_CACHE_DIR }),
      ...(env.TASKPOOL_OBJECT_CACHE_MAX_BYTES !== undefined && { cacheMaxBytes: env.TASKPOOL_OBJECT_CACHE_MAX_BYTES }),
      ...(env.TASKPOOL_OBJECTS_DIR !== undefined && { dir: env.TASKPOOL_OBJECTS_DIR }),
      inlineMaxBytes: env.TASKPOOL_INLINE_MAX_BYTES,
      maxBytes: env.TASKPOOL_MAX_OBJECT_BYTES,
    },
    ...(env.TASKPOOL_MAX_MEMORY_MB !== undefined && { maxMemoryMb: env.TASKPOOL_MAX_MEMORY_MB }),
    ...(env.TASKPOOL_MAX_TASKS_PER_PROCESS !== undefined && { maxTasksPerProcess: env.TASKPOOL_MAX_TASKS_PER_PROCESS }),
    ...(env.TASKPOOL_MAX_RSS_MB_PER_PROCESS !== undefined && { maxRssMbPerProcess: env.TASKPOOL_MAX_RSS_MB_PER_PROCESS }),
    ...(env.TASKPOOL_CONCURRENCY !== undefined && { concurrency: env.TASKPOOL_CONCURRENCY }),
    ...(env.TASKPOOL_QUEUES !== undefined && { queues: env.TASKPOOL_QUEUES }),
  });
  exitOnSignals(logger, 'worker', () => worker.close());
}

runMain(main);
