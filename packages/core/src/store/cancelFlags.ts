import type { RedisClient } from '../redisConnection.ts';
import { CANCEL_FIELD } from './jobFields.ts';
import { parseJobKey } from './jobKeys.ts';
import { readFieldOfEach } from './jobReads.ts';
import { cancelChannel, workflowCancelKey } from './taskpoolKeys.ts';

/**
 * Reads the cancel flags of jobs (by their hash keys) in one pipeline: true where a client set the flag, false
 * where not, undefined where the read failed (to be tried again).
 */
export async function readCancelFlags(redis: RedisClient, keys: readonly string[]): Promise<(boolean | undefined)[]> {
  return (await readFieldOfEach(redis, keys, CANCEL_FIELD)).map(([error, value]) => (error ? undefined : value !== null));
}

/** Asks the workers running these jobs (by their hash keys) to cancel them, in one pipeline of `PUBLISH`. */
export async function publishCancels(redis: RedisClient, prefix: string, jobKeys: readonly string[]): Promise<void> {
  if (jobKeys.length === 0) return;
  const pipeline = redis.pipeline();
  for (const key of jobKeys) pipeline.publish(cancelChannel(prefix), JSON.stringify(parseJobKey(prefix, key)));
  await pipeline.exec();
}

/** Marks a workflow cancelled for `ttlSeconds`: its steps fetched afterwards fail as cancelled. */
export async function markWorkflowCancelled(redis: RedisClient, prefix: string, workflowId: string, ttlSeconds: number): Promise<void> {
  await redis.set(workflowCancelKey(prefix, workflowId), '1', 'EX', ttlSeconds);
}

/** True once the workflow was marked cancelled. */
export async function isWorkflowCancelled(redis: RedisClient, prefix: string, workflowId: string): Promise<boolean> {
  return (await redis.exists(workflowCancelKey(prefix, workflowId))) === 1;
}
