import type { RedisClient } from './redisConnection.ts';
import type { SerializedError } from './serializeError.ts';

/** The default BullMQ key prefix of taskpool's queues. */
export const DEFAULT_PREFIX = 'taskpool';

/** The field of a BullMQ job hash where the worker keeps the last attempt's structured error. */
const ERROR_FIELD = 'tpError';

/** The Redis key of a job's hash (BullMQ's layout: `prefix:queue:id`). */
export function jobKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:${jobId}`;
}

/** The queue and id of a job from its key (job ids never hold a `:`), as BullMQ names children in a parent's sets. */
export function parseJobKey(prefix: string, key: string): { queue: string; jobId: string } {
  const colon = key.lastIndexOf(':');
  return { queue: key.slice(prefix.length + 1, colon), jobId: key.slice(colon + 1) };
}

/** Keeps a failed attempt's structured error beside the job (BullMQ keeps only message and stack). */
export async function writeJobError(redis: RedisClient, key: string, error: SerializedError): Promise<void> {
  await redis.hset(key, ERROR_FIELD, JSON.stringify(error));
}

/** Reads the structured error the worker kept for a job, if any. */
export async function readJobError(redis: RedisClient, key: string): Promise<SerializedError | undefined> {
  const text = await redis.hget(key, ERROR_FIELD);
  return text ? (JSON.parse(text) as SerializedError) : undefined;
}
