import type { Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import { CountedQueue } from '../store/countedQueue.ts';

/** BullMQ `Queue`s by name on one connection and prefix, made on first use; `closeAll()` closes them. */
export interface QueueCache {
  (name: string): Queue;
  closeAll(): Promise<void>;
}

/**
 * A cache of queues for a client or an admin; their adds keep the per-task counts (`store/countedQueue.ts`). `onCreate` hears each new queue's name; `counts` is the connection of their count scripts (default: `redis`). Connection errors reach
 * the commands that fail (a producer connection has no offline queue); the listener only keeps BullMQ from
 * printing each one.
 */
export function queueCache(redis: RedisClient, prefix: string, options: { onCreate?: (name: string) => void; counts?: RedisClient } = {}): QueueCache {
  const { onCreate, counts } = options;
  const queues = new Map<string, Queue>();
  const get = (name: string): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new CountedQueue(name, { connection: redis, prefix, ...(counts && { counts }) });
      q.on('error', () => undefined);
      queues.set(name, q);
      onCreate?.(name);
    }
    return q;
  };
  return Object.assign(get, { closeAll: async () => void (await Promise.all([...queues.values()].map((q) => q.close()))) });
}
