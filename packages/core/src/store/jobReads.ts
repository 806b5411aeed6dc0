import type { RedisClient } from '../redisConnection.ts';
import { JOB_ERROR_FIELD } from './jobFields.ts';
import { childrenKeys, jobKey, lockKey, queueKey } from './jobKeys.ts';

/** True when the job's hash exists. */
export async function jobExists(redis: RedisClient, key: string): Promise<boolean> {
  return (await redis.exists(key)) === 1;
}

/** One field of each of several hashes, in one pipeline: per hash, the read's error or its value (null if missing). */
export async function readFieldOfEach(redis: RedisClient, keys: readonly string[], field: string): Promise<[Error | null, string | null][]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.hget(key, field);
  const replies = (await pipeline.exec()) ?? [];
  return keys.map((_, i) => {
    const [error, value] = replies[i] ?? [new Error('Redis sent no reply'), null];
    return [error, (value as string | null | undefined) ?? null];
  });
}

/** The stored `data` field of jobs (their envelopes as JSON text); null for a job that does not exist. Throws a failed read's error. */
export async function readStoredData(redis: RedisClient, keys: readonly string[]): Promise<(string | null)[]> {
  return (await readFieldOfEach(redis, keys, 'data')).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** The `tpError` text of jobs (undefined where there is none or the read failed). */
export async function readJobErrorTexts(redis: RedisClient, keys: readonly string[]): Promise<(string | undefined)[]> {
  return (await readFieldOfEach(redis, keys, JOB_ERROR_FIELD)).map(([error, value]) => (error ? undefined : (value ?? undefined)));
}

/** The hash keys of a parent's children that are not done yet (BullMQ's `dependencies` set). */
export async function pendingChildren(redis: RedisClient, parentKey: string): Promise<string[]> {
  return redis.smembers(childrenKeys(parentKey).dependencies);
}

/** True while the job's lock (`<job key>:lock`) holds `token`: the worker that took the job with it has not recorded an outcome. */
export async function holdsLock(redis: RedisClient, key: string, token: string): Promise<boolean> {
  return (await redis.get(lockKey(key))) === token;
}

/**
 * The jobs in a queue's `active` list whose lock holds a token starting with one of `owners` (BullMQ's lock
 * tokens are `<worker id>:<n>`): the jobs a dead worker held. One `LRANGE`, then one pipeline of `GET`s.
 */
export async function jobsLockedBy(redis: RedisClient, prefix: string, queue: string, owners: readonly string[]): Promise<{ jobId: string; token: string }[]> {
  if (owners.length === 0) return [];
  const ids = await redis.lrange(queueKey(prefix, queue, 'active'), 0, -1);
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.get(lockKey(jobKey(prefix, queue, id)));
  const replies = (await pipeline.exec()) ?? [];
  return ids.flatMap((jobId, i) => {
    const token = replies[i]?.[1];
    return typeof token === 'string' && owners.some((owner) => token.startsWith(`${owner}:`)) ? [{ jobId, token }] : [];
  });
}
