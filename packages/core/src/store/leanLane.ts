/**
 * The lean lane's scripts (issue #14; docs/architecture.md, "Per-job floor"): plain jobs taken from `wait` and
 * completed K at a time, in one call each, on BullMQ's own structures (the wait and active lists, each job's
 * `:lock` key with its worker's token, `processedOn`/`ats`/`pb`, `returnvalue`/`finishedOn`/`atm`, the completed
 * set, the `active`/`completed`/`drained` events), so that BullMQ's stalled check, retries, Bull Board and every
 * reader see what BullMQ's own `moveToActive` and `moveToFinished` would have left. What those do besides is
 * left to them: a paused queue, a global concurrency or rate limit, a due delayed job, prioritized jobs, a
 * failure, a job with a parent or a deduplication id (the worker falls back to BullMQ's calls for those).
 * Every key is declared: the ids a take tries are the candidates the previous take or finish gave back (the oldest
 * ids of `wait` then); one that is gone by now is skipped.
 */
import type { RedisClient } from '../redisConnection.ts';
import { jobKey, lockKey, queueKey } from './jobKeys.ts';
import { luaScript, runScript } from './runScript.ts';

/** BullMQ's default length of a queue's event stream (`opts.maxLenEvents` in its meta hash overrides it). */
const DEFAULT_MAX_LEN_EVENTS = 10_000;

/**
 * KEYS: 1 wait, 2 active, 3 events, 4 meta, 5 delayed, 6 marker, then per candidate its job hash and lock.
 * ARGV: 1 now (ms), 2 lock ms, 3 worker name, 4 lock token, 5 how many candidates to give back, then the
 * candidates' ids, oldest first. Returns -1 when BullMQ's own fetch must run (paused, limited, a delayed job
 * due), else { taken: [id, HGETALL, ...], next candidates (oldest last) }.
 */
const TAKE = luaScript(`
local meta = redis.call('HMGET', KEYS[4], 'paused', 'concurrency', 'max', 'opts.maxLenEvents')
if meta[1] or meta[2] or meta[3] then return -1 end
local now = tonumber(ARGV[1])
if #redis.call('ZRANGEBYSCORE', KEYS[5], 0, (now + 1) * 0x1000 - 1, 'LIMIT', 0, 1) > 0 then return -1 end
local maxLen = tonumber(meta[4]) or ${DEFAULT_MAX_LEN_EVENTS}
local taken = {}
for i = 6, #ARGV do
  local id = ARGV[i]
  local key = KEYS[5 + 2 * (i - 5)]
  -- The candidates are the oldest ids, oldest first: each is the tail of wait unless another worker took it
  -- (then the others are likely gone too). O(1) per job, where LREM would scan a long wait list.
  if redis.call('LINDEX', KEYS[1], -1) ~= id then break end
  redis.call('RPOP', KEYS[1])
  if redis.call('EXISTS', key) == 1 then
    redis.call('LPUSH', KEYS[2], id)
    redis.call('SET', KEYS[6 + 2 * (i - 5)], ARGV[4], 'PX', ARGV[2])
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxLen, '*', 'event', 'active', 'jobId', id, 'prev', 'waiting')
    redis.call('HSET', key, 'processedOn', ARGV[1], 'pb', ARGV[3])
    redis.call('HINCRBY', key, 'ats', 1)
    taken[#taken + 1] = id
    taken[#taken + 1] = redis.call('HGETALL', key)
  end
end
local nextIds = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[5]), -1)
if #nextIds > 0 then redis.call('ZADD', KEYS[6], 0, '0') end
return { taken, nextIds }
`);

/**
 * KEYS: 1 active, 2 completed, 3 events, 4 stalled, 5 meta, 6 wait, 7 prioritized, then per job its hash and
 * lock. ARGV: 1 now, 2 how many candidates to give back, then per job: id, lock token, return value (JSON).
 * Returns { per job 0 or BullMQ's error code (-1 no job, -2 no lock, -3 not active, -6 another's lock), next
 * candidates of `wait` (oldest last) }.
 */
const FINISH = luaScript(`
local maxLen = tonumber(redis.call('HGET', KEYS[5], 'opts.maxLenEvents')) or ${DEFAULT_MAX_LEN_EVENTS}
local codes = {}
local n = (#ARGV - 2) / 3
for i = 1, n do
  local id, token, value = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  local key, lock = KEYS[6 + 2 * i], KEYS[7 + 2 * i]
  local code = 0
  if redis.call('EXISTS', key) == 0 then
    code = -1
  else
    local held = redis.call('GET', lock)
    if not held then
      code = -2
    elseif held ~= token then
      code = -6
    else
      redis.call('DEL', lock)
      redis.call('SREM', KEYS[4], id)
      if redis.call('LREM', KEYS[1], -1, id) < 1 then
        code = -3
      else
        redis.call('ZADD', KEYS[2], ARGV[1], id)
        redis.call('HSET', key, 'returnvalue', value, 'finishedOn', ARGV[1])
        redis.call('HINCRBY', key, 'atm', 1)
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxLen, '*', 'event', 'completed', 'jobId', id, 'returnvalue', value, 'prev', 'active')
      end
    end
  end
  codes[i] = code
end
if redis.call('LLEN', KEYS[6]) == 0 and redis.call('LLEN', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[7]) == 0 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxLen, '*', 'event', 'drained')
end
return { codes, redis.call('LRANGE', KEYS[6], -tonumber(ARGV[2]), -1) }
`);

/** A job taken by {@link takeJobs}: its id and its hash's fields and values, as BullMQ's fetch gives them (`raw2NextJobData`). */
export interface TakenJob {
  id: string;
  fields: string[];
}

/** What {@link takeJobs} gives back: `fallback` when BullMQ's own fetch must run. */
export type Take = { fallback: true } | { fallback: false; taken: TakenJob[]; candidates: string[] };

/** Where a lean call runs: a queue of a prefix, on a connection. */
export interface LeanQueue {
  redis: RedisClient;
  prefix: string;
  queue: string;
}

/**
 * Takes from the old end of `wait` the `candidates` (oldest first) still there in that order, each locked with `token` for `lockMs`
 * (as BullMQ's `moveToActive` does one job), and gives back the next candidates, `count` of them.
 */
export async function takeJobs(lane: LeanQueue, candidates: readonly string[], options: { token: string; lockMs: number; workerName: string; count: number }): Promise<Take> {
  const { prefix, queue } = lane;
  const key = (structure: Parameters<typeof queueKey>[2]): string => queueKey(prefix, queue, structure);
  const keys = [key('wait'), key('active'), key('events'), key('meta'), key('delayed'), key('marker')];
  for (const id of candidates) {
    const job = jobKey(prefix, queue, id);
    keys.push(job, lockKey(job));
  }
  const reply = (await runScript(lane.redis, TAKE, keys, [Date.now(), options.lockMs, options.workerName, options.token, options.count, ...candidates])) as -1 | [(string | string[])[], string[]];
  if (reply === -1) return { fallback: true };
  const [flat, next] = reply;
  const taken: TakenJob[] = [];
  for (let i = 0; i < flat.length; i += 2) taken.push({ id: flat[i] as string, fields: flat[i + 1] as string[] });
  return { fallback: false, taken, candidates: oldestFirst(next) };
}

/** A job to complete: its id, its lock's token and its return value as JSON. */
export interface FinishedJob {
  id: string;
  token: string;
  returnValue: string;
}

/**
 * Completes jobs in one call, as BullMQ's `moveToFinished` completes one without a parent, deduplication id or
 * count-based retention: `codes[i]` is 0, or BullMQ's error code for `jobs[i]` (nothing of that job changed).
 * Gives back the next candidates of `wait`, `count` of them.
 */
export async function finishJobs(lane: LeanQueue, jobs: readonly FinishedJob[], count: number): Promise<{ codes: number[]; candidates: string[] }> {
  const { prefix, queue } = lane;
  const key = (structure: Parameters<typeof queueKey>[2]): string => queueKey(prefix, queue, structure);
  const keys = [key('active'), key('completed'), key('events'), key('stalled'), key('meta'), key('wait'), key('prioritized')];
  const args: (string | number)[] = [Date.now(), count];
  for (const job of jobs) {
    const hash = jobKey(prefix, queue, job.id);
    keys.push(hash, lockKey(hash));
    args.push(job.id, job.token, job.returnValue);
  }
  const [codes, next] = (await runScript(lane.redis, FINISH, keys, args)) as [number[], string[]];
  return { codes, candidates: oldestFirst(next) };
}

/** `LRANGE wait -n -1` lists the oldest last. */
function oldestFirst(ids: readonly string[]): string[] {
  return [...ids].reverse();
}
