import type { Logger } from 'pino';
import type { ObjectStore } from '../objects/objectStore.ts';
import type { RedisClient } from '../redisConnection.ts';
import { sweepOwnedObjectsOnce } from '../store/objectOwners.ts';

/** How often a worker deletes the objects of removed jobs (one worker of the deployment at a time). */
export const DEFAULT_OBJECT_SWEEP_MS = 60_000;

/**
 * Every `everyMs`, deletes the objects made for jobs that have since been removed (see `store/objectOwners.ts`):
 * the workers of a deployment take turns, one at a time. `graceMs`: how old an object's record must be first.
 */
export function startObjectSweeper(redis: RedisClient, prefix: string, stores: readonly ObjectStore[], options: { everyMs: number; graceMs?: number; logger: Logger }): { stop(): void } {
  const { everyMs, graceMs, logger } = options;
  const sweep = async (): Promise<void> => {
    try {
      const removed = await sweepOwnedObjectsOnce(redis, prefix, stores, everyMs, graceMs === undefined ? {} : { graceMs });
      if (removed) logger.info({ event: 'objects:swept', removed }, 'Deleted the objects of removed jobs');
    } catch (err) {
      logger.warn({ event: 'objects:sweep-failed', err }, 'Could not sweep the objects of removed jobs');
    }
  };
  const timer = everyMs > 0 ? setInterval(() => void sweep(), everyMs).unref() : undefined;
  return { stop: () => clearInterval(timer) };
}
