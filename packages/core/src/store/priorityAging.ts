/**
 * Priority aging (issue #16): a prioritized job rises one priority level per `agingMs` it has waited, from the
 * priority it was submitted with, keeping its place among the jobs that arrived before it (BullMQ's prioritized
 * score is `priority × 2^32 + an arrival counter`: the counter is kept). Once it has waited `priority × agingMs` it
 * is at level 0, above every priority, where the jobs that waited that long are served in the order they arrived.
 * So a job of priority P starts within about P × agingMs under any stream of higher-priority work. Jobs without
 * a priority (BullMQ's `wait` list) still go before every prioritized one, as BullMQ serves them.
 */
import type { RedisClient } from '../redisConnection.ts';
import { jobKey, queueKey } from './jobKeys.ts';
import { luaScript, runScript } from './runScript.ts';

/** The job-hash field that keeps the priority a job was submitted with, once aging has changed it. */
export const FIRST_PRIORITY_FIELD = 'tpPriority0';

/**
 * KEYS: 1 prioritized. ARGV: 1 how many of each level. Returns the ids of the oldest jobs of each priority level
 * present (at most 64 levels, from the highest).
 */
const CANDIDATES = luaScript(`
local band = 4294967296
local out = {}
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #head == 0 then return out end
local level = math.floor(tonumber(head[2]) / band)
for _ = 1, 64 do
  local from = string.format('%.0f', level * band)
  local to = string.format('%.0f', (level + 1) * band)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], from, '(' .. to, 'LIMIT', 0, tonumber(ARGV[1]))) do out[#out + 1] = id end
  local nextOne = redis.call('ZRANGEBYSCORE', KEYS[1], to, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #nextOne == 0 then break end
  level = math.floor(tonumber(nextOne[2]) / band)
end
return out
`);

/**
 * KEYS: 1 prioritized, then per job its hash. ARGV: 1 now (ms), 2 agingMs, then the jobs' ids. Raises each job still
 * prioritized to the level its wait has earned (0 at the most). Returns how many were raised.
 */
const RAISE = luaScript(`
local band = 4294967296
local now, agingMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local raised = 0
for i = 3, #ARGV do
  local id, job = ARGV[i], KEYS[i - 1]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score then
    score = tonumber(score)
    local level = math.floor(score / band)
    local f = redis.call('HMGET', job, 'timestamp', '${FIRST_PRIORITY_FIELD}')
    local first = tonumber(f[2]) or level
    local target = math.max(0, first - math.floor((now - (tonumber(f[1]) or now)) / agingMs))
    if target < level then
      redis.call('ZADD', KEYS[1], target * band + (score % band), id)
      redis.call('HSET', job, 'priority', target)
      redis.call('HSETNX', job, '${FIRST_PRIORITY_FIELD}', first)
      raised = raised + 1
    end
  end
end
return raised
`);

/**
 * Ages the prioritized jobs of a queue once: the oldest `perLevel` of each priority level rise to the level their wait
 * has earned. Gives how many rose a level or more.
 */
export async function agePriorities(redis: RedisClient, prefix: string, queue: string, agingMs: number, perLevel = 50): Promise<number> {
  const prioritized = queueKey(prefix, queue, 'prioritized');
  const ids = (await runScript(redis, CANDIDATES, [prioritized], [perLevel])) as string[];
  if (ids.length === 0) return 0;
  return (await runScript(redis, RAISE, [prioritized, ...ids.map((id) => jobKey(prefix, queue, id))], [Date.now(), agingMs, ...ids])) as number;
}
