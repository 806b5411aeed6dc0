/**
 * The admission gate of tasks with concurrency limits (issue #16; docs/architecture.md, "Flow control"): a gated
 * task's jobs are added as BullMQ *delayed* jobs due far in the future, entered here as pending, and promoted to
 * `wait` once admitted. Admission takes, while the task's admitted jobs are under its global cap, the key of the
 * ring with the lowest virtual time whose admitted jobs are under the per-key limit and which has a token (its rate),
 * and its oldest pending job (start-time fair queueing: a key that enters the ring starts at the current virtual
 * time, so a key with 100,000 pending jobs does not hold back the first job of a new one). A job holds its slot
 * from admission to its final outcome. Every key is declared: the task's own (`<prefix>:tp:fc:<queue>:<task>:*`)
 * and its queue's and jobs' BullMQ keys, all under the prefix, so they share its hash tag on a Redis Cluster.
 */
import type { RedisClient } from '../redisConnection.ts';
import { delayedDueAt, jobKey, queueKey } from './jobKeys.ts';
import { luaScript, runScript } from './runScript.ts';

/**
 * The gate's keys of one task: pending (lex-ordered members `key NUL seq NUL id`), ring (keys with pending jobs and
 * a free slot, by virtual time), held (admitted per key), admitted (id → key), vt, seq, blocked (keys with pending
 * jobs and no free slot, by virtual time: out of the ring until a slot of theirs comes back), tokens (each key's
 * token bucket, `tokens:ms`), throttled (keys with pending jobs and no token, by the time they get one).
 */
export function gateKeys(prefix: string, queue: string, task: string): string[] {
  const base = `${prefix}:tp:fc:${queue}:${task}`;
  return [`${base}:pending`, `${base}:ring`, `${base}:held`, `${base}:admitted`, `${base}:vt`, `${base}:seq`, `${base}:blocked`, `${base}:tokens`, `${base}:throttled`];
}


/** The limits a gate admits by (`TaskDefaults.concurrency`): 0 is none. */
export interface GateLimits {
  /** Most admitted jobs of one key. */
  perKey: number;
  /** Most admitted jobs of the task. */
  global: number;
  /** Most admissions of one key per `rateMs` (a token bucket of `rateMax` tokens, refilled at `rateMax / rateMs`). */
  rateMax: number;
  rateMs: number;
}

/** Most jobs one admission admits (the rest wait for the next one, which any final outcome runs). */
const ADMIT_MAX = 1_000;

/**
 * Lua: admits pending jobs while the limits allow (see the module's comment); KEYS 1-9 are the gate's, ARGV[a] to
 * ARGV[a + 3] the per-key limit, the global one, the rate's max and its ms (0: none). Keys whose next token is due
 * come back to the ring first. Appends the admitted ids to `out`.
 */
const ADMIT_LUA = (a: number) => `
local perKey, global = tonumber(ARGV[${a}]), tonumber(ARGV[${a + 1}])
local rateMax, rateMs = tonumber(ARGV[${a + 2}]), tonumber(ARGV[${a + 3}])
local clock = redis.call('TIME')
local nowMs = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local admittedCount = redis.call('HLEN', KEYS[4])
if rateMax > 0 then
  -- Keys whose next token is due are back in the ring, at the current virtual time.
  local due = redis.call('ZRANGEBYSCORE', KEYS[9], '-inf', nowMs)
  local vtNow = tonumber(redis.call('GET', KEYS[5]) or '0')
  for _, key in ipairs(due) do
    redis.call('ZREM', KEYS[9], key)
    redis.call('ZADD', KEYS[2], 'NX', vtNow, key)
  end
end
while #out < ${ADMIT_MAX} and (global == 0 or admittedCount < global) do
  local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if #head == 0 then break end
  local chosen, score = head[1], tonumber(head[2])
  local first = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. chosen .. '\\0', '(' .. chosen .. '\\1', 'LIMIT', 0, 1)[1]
  local tokens = nil
  if first and rateMax > 0 then
    local bucket = redis.call('HGET', KEYS[8], chosen)
    if bucket then
      local sep = string.find(bucket, ':', 1, true)
      local had, at = tonumber(string.sub(bucket, 1, sep - 1)), tonumber(string.sub(bucket, sep + 1))
      tokens = math.min(rateMax, had + (nowMs - at) * rateMax / rateMs)
    else
      tokens = rateMax
    end
  end
  if not first then
    redis.call('ZREM', KEYS[2], chosen)
  elseif perKey > 0 and tonumber(redis.call('HGET', KEYS[3], chosen) or '0') >= perKey then
    -- No free slot: out of the ring until one of its jobs ends.
    redis.call('ZREM', KEYS[2], chosen)
    redis.call('ZADD', KEYS[7], score, chosen)
  elseif tokens and tokens < 1 then
    -- No token: out of the ring until its next one is due.
    redis.call('ZREM', KEYS[2], chosen)
    redis.call('ZADD', KEYS[9], nowMs + math.ceil((1 - tokens) * rateMs / rateMax), chosen)
    redis.call('HSET', KEYS[8], chosen, tokens .. ':' .. nowMs)
  else
    redis.call('ZREM', KEYS[1], first)
    local id = string.sub(first, #chosen + 19)
    -- An id entered twice (a resubmit with an idempotency key) is admitted once.
    local fresh = redis.call('HSETNX', KEYS[4], id, chosen) == 1
    if fresh then
      redis.call('HINCRBY', KEYS[3], chosen, 1)
      admittedCount = admittedCount + 1
      out[#out + 1] = id
      if tokens then redis.call('HSET', KEYS[8], chosen, (tokens - 1) .. ':' .. nowMs) end
    end
    redis.call('SET', KEYS[5], score)
    redis.call('ZADD', KEYS[2], score + 1, chosen)
  end
end
`;

/**
 * KEYS: the gate's 9; 10 the queue's delayed, 11 wait, 12 meta, 13 marker, 14 events; then per job its hash. ARGV:
 * 1-4 the limits (per key, global, rate max, rate ms), then per job: its key and id, in submit order. Enters each
 * job as pending (a key new to the ring starts at the current virtual time), then admits; when nobody waits and
 * there is room (and no rate limit), a job is admitted at once. An admitted job of these, without a priority, in a
 * queue neither paused nor under a global concurrency, is promoted here as BullMQ's `promote` does (out of
 * `delayed`, into `wait`, the marker, the `waiting` event): the usual case costs no second call. Returns the
 * admitted ids left to promote (others' jobs, or those the simple case does not cover).
 */
const ENTER = luaScript(`
local vt = tonumber(redis.call('GET', KEYS[5]) or '0')
local perKeyLimit, globalLimit, rateLimited = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) > 0
local mine = {}
local out = {}
for i = 5, #ARGV, 2 do
  local key, id = ARGV[i], ARGV[i + 1]
  mine[id] = KEYS[15 + (i - 5) / 2]
  local held = tonumber(redis.call('HGET', KEYS[3], key) or '0')
  local waiting = redis.call('ZSCORE', KEYS[7], key) or redis.call('ZSCORE', KEYS[9], key)
  -- Nobody waits (no key in the ring, this one neither blocked nor throttled) and there is room: admitted at once.
  if not rateLimited and redis.call('ZCARD', KEYS[2]) == 0 and not waiting
    and (perKeyLimit == 0 or held < perKeyLimit) and (globalLimit == 0 or redis.call('HLEN', KEYS[4]) < globalLimit) then
    if redis.call('HSETNX', KEYS[4], id, key) == 1 then
      redis.call('HINCRBY', KEYS[3], key, 1)
      out[#out + 1] = id
    end
  else
    local seq = redis.call('INCR', KEYS[6])
    redis.call('ZADD', KEYS[1], 0, key .. '\\0' .. string.format('%016d', seq) .. '\\0' .. id)
    if not waiting then redis.call('ZADD', KEYS[2], 'NX', vt, key) end
  end
end
${ADMIT_LUA(1)}
local meta = redis.call('HMGET', KEYS[12], 'paused', 'concurrency')
local left = {}
for _, id in ipairs(out) do
  local job = mine[id]
  if job and not meta[1] and not meta[2] and (tonumber(redis.call('HGET', job, 'priority')) or 0) == 0 and redis.call('ZREM', KEYS[10], id) == 1 then
    local first = redis.call('LINDEX', KEYS[11], 0)
    if first and string.sub(first, 1, 2) == '0:' then redis.call('LPOP', KEYS[11]) end
    redis.call('LPUSH', KEYS[11], id)
    redis.call('ZADD', KEYS[13], 0, '0')
    redis.call('XADD', KEYS[14], '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
    redis.call('HSET', job, 'delay', 0)
  else
    left[#left + 1] = id
  end
end
return left
`);

/**
 * KEYS: the gate's 9, then per job its hash key. ARGV: 1-4 the limits (as ENTER's), then the jobs' ids. Frees
 * the slot of each job that is admitted and either gone or finished (`finishedOn` set: completed, or failed for
 * good), then admits. Returns { freed count, admitted ids }.
 */
const RELEASE = luaScript(`
local freed = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local key = redis.call('HGET', KEYS[4], id)
  if key then
    local job = KEYS[5 + i]
    if redis.call('EXISTS', job) == 0 or redis.call('HEXISTS', job, 'finishedOn') == 1 then
      redis.call('HDEL', KEYS[4], id)
      if redis.call('HINCRBY', KEYS[3], key, -1) <= 0 then redis.call('HDEL', KEYS[3], key) end
      freed = freed + 1
      -- A slot of a blocked key is free again: back in the ring, at its virtual time.
      local blocked = redis.call('ZSCORE', KEYS[7], key)
      if blocked then
        redis.call('ZREM', KEYS[7], key)
        redis.call('ZADD', KEYS[2], blocked, key)
      end
    end
  end
end
local out = {}
${ADMIT_LUA(1)}
return { freed, out }
`);

function limitArgs(limits: GateLimits): number[] {
  return [limits.perKey, limits.global, limits.rateMax, limits.rateMs];
}

/** Where a gate is: a task's, in a queue of a prefix, on a connection. */
export interface Gate {
  redis: RedisClient;
  prefix: string;
  queue: string;
  task: string;
  limits: GateLimits;
}

/**
 * Enters jobs just added, delayed (key and id each, in submit order), as pending and admits what the limits allow,
 * promoting those of `jobs` it can itself; gives the admitted ids left for BullMQ's `promote`.
 */
export async function enterGate(gate: Gate, jobs: readonly { key: string; id: string }[]): Promise<string[]> {
  const { prefix, queue } = gate;
  const keys = [...gateKeys(prefix, queue, gate.task), ...(['delayed', 'wait', 'meta', 'marker', 'events'] as const).map((s) => queueKey(prefix, queue, s))];
  const args: (string | number)[] = limitArgs(gate.limits);
  for (const { key, id } of jobs) {
    args.push(key, id);
    keys.push(jobKey(prefix, queue, id));
  }
  return (await runScript(gate.redis, ENTER, keys, args)) as string[];
}

/**
 * Frees the slots of the jobs that are finished or gone (`jobKeys[i]` the hash of `ids[i]`; an admitted job still
 * running or retrying keeps its slot) and admits; gives how many were freed and the admitted ids.
 */
export async function releaseGate(gate: Gate, ids: readonly string[], jobKeys: readonly string[]): Promise<{ freed: number; admitted: string[] }> {
  const keys = [...gateKeys(gate.prefix, gate.queue, gate.task), ...jobKeys];
  const [freed, admitted] = (await runScript(gate.redis, RELEASE, keys, [...limitArgs(gate.limits), ...ids])) as [number, string[]];
  return { freed, admitted };
}

/** Up to `count` admitted job ids of a gate, from `cursor` (HSCAN): what a reconcile checks. */
export async function scanAdmitted(gate: Pick<Gate, 'redis' | 'prefix' | 'queue' | 'task'>, cursor: string, count = 200): Promise<{ cursor: string; ids: string[] }> {
  const [next, flat] = await gate.redis.hscan(gateKeys(gate.prefix, gate.queue, gate.task)[3]!, cursor, 'COUNT', count);
  const ids: string[] = [];
  for (let i = 0; i < flat.length; i += 2) ids.push(flat[i]!);
  return { cursor: next, ids };
}

/**
 * Of admitted `ids`, those still in the queue's `delayed` set with a due time after `heldAfter` (ms): admitted,
 * then left unpromoted by a crash between the two steps (a retry's backoff is never due that late).
 */
export async function stillGated(gate: Pick<Gate, 'redis' | 'prefix' | 'queue'>, ids: readonly string[], heldAfter: number): Promise<string[]> {
  const pipeline = gate.redis.pipeline();
  for (const id of ids) pipeline.zscore(queueKey(gate.prefix, gate.queue, 'delayed'), id);
  const replies = (await pipeline.exec()) ?? [];
  return ids.filter((_, i) => {
    const score = replies[i]?.[1];
    return typeof score === 'string' && delayedDueAt(Number(score)) > heldAfter;
  });
}
