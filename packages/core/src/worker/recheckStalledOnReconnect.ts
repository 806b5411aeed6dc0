import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisClient } from '../redisConnection.ts';

/**
 * After every reconnect of the worker's Redis connection, runs BullMQ's stalled check at once (and its timer
 * anew) instead of up to `stalledInterval` later. A job moved to `active` just before Redis died, whose reply
 * never reached its worker, is held by no one: only the stalled check brings it back. BullMQ already checks
 * when a worker starts (`Worker.run`). `startStalledCheckTimer` is BullMQ's public way to start the checker;
 * calling it again replaces the running loop (one loop per worker), and a paused or closing worker ignores it.
 */
export function recheckStalledOnReconnect(redis: RedisClient, workers: readonly Worker[], logger: Logger): void {
  let connected = redis.status === 'ready';
  redis.on('ready', () => {
    if (!connected) {
      connected = true;
      return;
    }
    logger.info({ event: 'redis:reconnected' }, 'Redis connection back: looking for stalled jobs');
    for (const worker of workers) {
      worker.startStalledCheckTimer().catch((err: unknown) => logger.error({ event: 'worker:error', err }, 'Could not start the stalled check'));
    }
  });
}
