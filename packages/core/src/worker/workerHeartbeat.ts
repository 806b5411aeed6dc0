import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { RedisClient } from '../redisConnection.ts';
import type { Logger } from 'pino';
import { HEARTBEAT_MS, type WorkerInfo } from '../workerInfo.ts';
import { removeWorkerInfo, writeWorkerInfo } from '../store/workerRegistry.ts';
import { ProcessStats } from './processStats.ts';
import type { SandboxPool } from './sandboxPool.ts';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** What the heartbeat reports besides the pool. */
export interface HeartbeatSource {
  id: string;
  queues: readonly string[];
  concurrency: number;
  startedAt: number;
  counts: { done: number; failed: number };
  /** Called after each write that Redis acknowledged: a round trip succeeded (see `partitionGuard.ts`). */
  onWritten?: () => void;
}

/**
 * Writes the worker's {@link WorkerInfo} into the registry hash every {@link HEARTBEAT_MS}; readers drop
 * entries whose heartbeat is older than three periods. `beatNow()` writes at once (e.g. when the pools' health
 * turns), unless a write is still waiting for Redis; `stop()` removes the entry.
 */
export function startHeartbeat(redis: RedisClient, prefix: string, pools: readonly SandboxPool[], source: HeartbeatSource, logger: Logger): { beatNow(): void; stop(): Promise<void> } {
  const stats = new ProcessStats();
  const beat = async (): Promise<void> => {
    const sandboxes = pools.flatMap((pool) => pool.sandboxes).map((s) => ({
      pid: s.pid,
      ...(s.runningJobId !== undefined && { jobId: s.runningJobId }),
      ...(s.runningTask !== undefined && { task: s.runningTask }),
      ...stats.sample(s.pid),
      tasksRun: s.tasksRun,
    }));
    stats.retain([process.pid, ...sandboxes.map((s) => s.pid)]);
    const sick = pools.map((pool) => pool.health).find((health) => !health.healthy);
    const info: WorkerInfo = {
      id: source.id,
      host: hostname(),
      pid: process.pid,
      version: VERSION,
      queues: [...source.queues],
      concurrency: source.concurrency,
      busy: pools.reduce((sum, pool) => sum + pool.busyCount, 0),
      tasksDone: source.counts.done,
      tasksFailed: source.counts.failed,
      startedAt: source.startedAt,
      heartbeatAt: Date.now(),
      rssMb: stats.sample(process.pid).rssMb,
      sandboxes,
      healthy: sick === undefined,
      ...(sick && { unhealthyReason: `No sandbox can start (${sick.startFailures} failed starts in a row): ${sick.lastStartError ?? 'unknown error'}` }),
    };
    await writeWorkerInfo(redis, prefix, info);
    source.onWritten?.();
  };
  let stopped = false;
  // One write at a time: while Redis does not answer, writes do not pile up (each is bounded by the
  // connection's command timeout, see WORKER_COMMAND_TIMEOUT_MS).
  let inFlight = false;
  const tick = (): void => {
    if (stopped || inFlight) return;
    inFlight = true;
    beat()
      .catch((err: unknown) => logger.warn({ event: 'worker:heartbeat-failed', err }))
      .finally(() => (inFlight = false));
  };
  tick();
  const timer = setInterval(tick, HEARTBEAT_MS);
  timer.unref();
  return {
    beatNow: tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await removeWorkerInfo(redis, prefix, source.id).catch(() => undefined);
    },
  };
}
