import type { Logger } from 'pino';
import type { RedisClient } from '../redisConnection.ts';
import { agePriorities } from '../store/priorityAging.ts';

/** Default of `StartWorkerOptions.priorityAgingMs`: a job of priority P starts within about P minutes. */
export const DEFAULT_PRIORITY_AGING_MS = 60_000;

/**
 * Every `agingMs / 2`, ages the prioritized jobs of each queue (see `store/priorityAging.ts`): every worker does,
 * which is harmless (a job is raised to the level its wait has earned, once). 0 turns it off.
 */
export function startPriorityAging(options: { redis: RedisClient; prefix: string; queues: readonly string[]; agingMs: number; logger: Logger }): { stop(): Promise<void> } {
  const { redis, prefix, queues, agingMs, logger } = options;
  if (agingMs <= 0 || queues.length === 0) return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  const age = async (): Promise<void> => {
    for (const queue of queues) {
      try {
        const raised = await agePriorities(redis, prefix, queue, agingMs);
        if (raised > 0) logger.debug({ event: 'priority:aged', queue, raised }, 'Raised the priority of jobs that waited');
      } catch (err) {
        logger.warn({ event: 'priority:aging-failed', queue, err }, 'Could not age the priorities of waiting jobs');
      }
    }
  };
  const timer = setInterval(() => {
    running ??= age().finally(() => (running = undefined));
  }, Math.max(10, Math.floor(agingMs / 2))).unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
