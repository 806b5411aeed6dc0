import type { RedisClient } from '../redisConnection.ts';
import { JOB_ERROR_FIELD } from './jobFields.ts';
import { childrenKeys } from './jobKeys.ts';

/** True when the job's hash exists. */
export async function jobExists(redis: RedisClient, key: string): Promise<boolean> {
  return (await redis.exists(key)) === 1;
}

/** The stored `data` field of jobs (their envelopes as JSON text), in one pipeline; null for a job that does not exist. */
export async function readStoredData(redis: RedisClient, keys: readonly string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.hget(key, 'data');
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, value]) => {
    if (error) throw error;
    return (value as string | null) ?? null;
  });
}

/** The `tpError` text of jobs, in one pipeline (undefined where there is none or the read failed). */
export async function readJobErrorTexts(redis: RedisClient, keys: readonly string[]): Promise<(string | undefined)[]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.hget(key, JOB_ERROR_FIELD);
  const replies = (await pipeline.exec()) ?? [];
  return keys.map((_, i) => {
    const value = replies[i]?.[1];
    return typeof value === 'string' ? value : undefined;
  });
}

/** The hash keys of a parent's children that are not done yet (BullMQ's `dependencies` set). */
export async function pendingChildren(redis: RedisClient, parentKey: string): Promise<string[]> {
  return redis.smembers(childrenKeys(parentKey).dependencies);
}
