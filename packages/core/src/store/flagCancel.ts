import type { RedisClient } from '../redisConnection.ts';
import { CANCEL_FIELD } from './jobFields.ts';
import { jobKey, lockKey, queueKey } from './jobKeys.ts';
import { luaScript, runScript } from './runScript.ts';
import { cancelledMarkerKey } from './taskpoolKeys.ts';

/**
 * In one step: nothing for a missing or finished job; else the cancel flag on the job hash (a worker that
 * fetches the job afterwards fails it as cancelled instead of running it), and, unless the job is locked
 * (running), the cancel marker before the job is removed.
 *
 * KEYS: job hash, completed set, failed set, lock, cancel marker. ARGV: job id, flag field, marker TTL (s).
 * Returns the state found and the job's task.
 */
const FLAG_SCRIPT = luaScript(`
local name = redis.call('HGET', KEYS[1], 'name')
if not name then return {'missing', ''} end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'completed', name} end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return {'failed', name} end
redis.call('HSET', KEYS[1], ARGV[2], '1')
if redis.call('EXISTS', KEYS[4]) == 1 then return {'active', name} end
redis.call('SET', KEYS[5], '1', 'EX', ARGV[3])
return {'queued', name}
`);

/** What {@link flagCancel} found: the job's state (`queued` ones got the marker too) and its task. */
export interface CancelFlagged {
  found: 'missing' | 'completed' | 'failed' | 'active' | 'queued';
  task: string;
}

/** Sets a job's cancel flag (and the marker of a job not running) unless it is missing or finished, in one step. */
export async function flagCancel(redis: RedisClient, options: { prefix: string; queue: string; jobId: string; markerTtlSeconds: number }): Promise<CancelFlagged> {
  const { prefix, queue, jobId } = options;
  const key = jobKey(prefix, queue, jobId);
  const keys = [key, queueKey(prefix, queue, 'completed'), queueKey(prefix, queue, 'failed'), lockKey(key), cancelledMarkerKey(key)];
  const [found, task] = (await runScript(redis, FLAG_SCRIPT, keys, [jobId, CANCEL_FIELD, options.markerTtlSeconds])) as [CancelFlagged['found'], string];
  return { found, task };
}
