import type { RedisClient } from '../redisConnection.ts';
import { CANCELLED_BEFORE_START } from './jobError.ts';
import { CANCEL_FIELD, CANCELLED_REASON, DEFERRED_FAILURE_FIELD, JOB_ERROR_FIELD } from './jobFields.ts';
import { jobKey, lockKey, queueKey } from './jobKeys.ts';
import { luaScript, runScript } from './runScript.ts';
import { cancelledMarkerKey } from './taskpoolKeys.ts';

/**
 * In one step: nothing for a missing or finished job; else the cancel flag on the job hash (the worker holding
 * it rereads it every second), and, unless the job is locked (running), BullMQ's deferred failure with our
 * structured error (a worker that fetches the job afterwards fails it as cancelled, its processor never
 * called: BullMQ reads the field with the fetch) and the cancel marker before the job is removed.
 *
 * KEYS: job hash, completed set, failed set, lock, cancel marker. ARGV: job id, flag field, marker TTL (s),
 * deferred-failure field, its text, structured-error field, the error's JSON.
 * Returns the state found and the job's task.
 */
const FLAG_SCRIPT = luaScript(`
local name = redis.call('HGET', KEYS[1], 'name')
if not name then return {'missing', ''} end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'completed', name} end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return {'failed', name} end
redis.call('HSET', KEYS[1], ARGV[2], '1')
if redis.call('EXISTS', KEYS[4]) == 1 then return {'active', name} end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
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
  const [found, task] = (await runScript(redis, FLAG_SCRIPT, keys, [jobId, CANCEL_FIELD, options.markerTtlSeconds, DEFERRED_FAILURE_FIELD, CANCELLED_REASON, JOB_ERROR_FIELD, JSON.stringify(CANCELLED_BEFORE_START)])) as [CancelFlagged['found'], string];
  return { found, task };
}
