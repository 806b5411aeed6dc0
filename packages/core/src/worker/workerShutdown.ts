import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisClient } from '../redisConnection.ts';
import type { SandboxPool } from './sandboxPool.ts';
import type { SelfFetchSupervisor } from './selfFetchSupervisor.ts';

/** With no job held, how long close() waits for BullMQ's workers to stop (at once, unless Redis is away or slow). */
const IDLE_CLOSE_MS = 1_000;
/** How long close() waits for the jobs of sandboxes killed at the end of the grace to be put back to waiting. */
const SETTLE_LOST_MS = 5_000;
/** How long close() waits for its last Redis calls (deregistering, unsubscribing, quitting), all together. */
const CLOSE_REDIS_MS = 400;
/** How long close() lets each sandbox run `teardown()` and exit before it is SIGKILLed (the pool's own grace). */
const SANDBOX_STOP_MS = 5_000;
/** How long close() waits past {@link SANDBOX_STOP_MS} for the exits of SIGKILLed sandboxes before it gives up on them. */
const SANDBOX_EXIT_AFTER_KILL_MS = 2_000;

/** What a worker's shutdown stops. */
export interface ShutdownParts {
  logger: Logger;
  shutdownGraceMs: number;
  /** The BullMQ workers the worker process fetches with. */
  workers: readonly Worker[];
  pools: readonly SandboxPool[];
  /** The pool of sandboxes that take their own jobs, if any, and their supervisor. */
  selfFetching?: SandboxPool;
  supervision?: SelfFetchSupervisor;
  /** Jobs held now (fetched, waiting for a sandbox or running). */
  holding(): number;
  /** The grace period is over: failures from now on put their jobs back to waiting. */
  onGraceExpired(): void;
  /** The last Redis calls (unsubscribe, deregister, close the flow producer), started once the jobs are done. */
  lastCalls(): (Promise<unknown> | undefined)[];
  /** Quit, then disconnected. */
  connections: readonly RedisClient[];
}

/**
 * Stops a worker: BullMQ stops fetching, held jobs get `shutdownGraceMs` to finish (then their sandboxes are
 * SIGKILLed and the jobs go back to waiting), the last Redis calls are made and the sandboxes run `teardown()`.
 * Every wait is bounded, and one that runs out logs `worker:close-forced` with its `step`: a close never hangs
 * without a word.
 */
export async function shutDown(parts: ShutdownParts): Promise<void> {
  const { logger, shutdownGraceMs, workers, pools, selfFetching, supervision, connections } = parts;
  const busy = (): number => pools.reduce((sum, p) => sum + p.busyCount, 0);
  logger.info({ event: 'worker:shutdown', graceMs: shutdownGraceMs, busy: busy() });
  // Self-fetching sandboxes stop fetching and finish the jobs they hold.
  const finished = Promise.all([...workers.map((w) => w.close()), ...(selfFetching?.sandboxes.map((s) => s.drain()) ?? [])]);
  const timer = setTimeout(() => {
    parts.onGraceExpired();
    logger.warn({ event: 'worker:grace-expired', busy: busy() });
    for (const p of pools) p.killAll();
  }, shutdownGraceMs);
  // If Redis is gone, BullMQ's close never finishes: after the grace period and 5 s more, force it.
  let force: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((resolve) => {
    force = setTimeout(() => {
      logger.error({ event: 'worker:close-forced', step: 'bullmq', waitedMs: shutdownGraceMs + 5_000 }, 'Could not close cleanly (is Redis reachable?): forcing');
      void Promise.all([...workers.map((w) => w.close(true)), supervision?.close(true)]).catch(() => undefined);
      for (const connection of connections) connection.disconnect();
      resolve();
    }, shutdownGraceMs + 5_000);
  });
  // With no job held, BullMQ's close only stops fetching, at once unless Redis is away or slow: then stop
  // waiting for it (its calls fail when the connection is closed below). Held jobs get the grace period.
  if (parts.holding() === 0 && !(await settleWithin(finished, IDLE_CLOSE_MS)) && parts.holding() === 0) {
    logger.warn({ event: 'worker:close-forced', step: 'bullmq', waitedMs: IDLE_CLOSE_MS }, 'No task running and BullMQ did not stop in time (is Redis reachable?): not waiting');
  } else {
    await Promise.race([finished, forced]);
  }
  clearTimeout(timer);
  clearTimeout(force);
  // The jobs of sandboxes killed at the end of the grace go back to waiting first.
  const lost = await supervision?.settle(SETTLE_LOST_MS);
  if (lost && !lost.settled) {
    logger.warn({ event: 'worker:close-forced', step: 'record-lost', waitedMs: SETTLE_LOST_MS, pending: lost.pending }, 'Jobs of killed sandboxes not recorded in time: BullMQ\'s stalled-job check puts them back');
  }
  // Redis calls are bounded, together: with Redis gone they would wait for ever (worker connections retry).
  const redisCalls = Promise.all(parts.lastCalls()).then(() => Promise.all(connections.map((c) => c.quit())));
  // Sandboxes get SANDBOX_STOP_MS for teardown() and are SIGKILLed then; an exit not seen after that is given up on
  // (a sandbox process whose IPC channel closes with this process exits by itself).
  const sandboxesStopped = Promise.all(pools.map((p) => p.close(SANDBOX_STOP_MS)));
  const [redisDone, sandboxesDone] = await Promise.all([
    settleWithin(redisCalls, CLOSE_REDIS_MS),
    settleWithin(sandboxesStopped, SANDBOX_STOP_MS + SANDBOX_EXIT_AFTER_KILL_MS),
  ]);
  if (!redisDone) logger.warn({ event: 'worker:close-forced', step: 'redis', waitedMs: CLOSE_REDIS_MS }, 'Last Redis calls not done in time: disconnecting');
  if (!sandboxesDone) {
    const sandboxPids = pools.flatMap((p) => p.pids);
    logger.error({ event: 'worker:close-forced', step: 'sandboxes', waitedMs: SANDBOX_STOP_MS + SANDBOX_EXIT_AFTER_KILL_MS, sandboxPids }, 'Sandboxes not seen to exit: leaving them');
  }
  for (const connection of connections) connection.disconnect();
  logger.info({ event: 'worker:stopped' });
}

/** Waits for a promise, at most `ms`; its rejection is ignored. True if it settled in time. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([promise.then(() => true, () => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return settled;
}
