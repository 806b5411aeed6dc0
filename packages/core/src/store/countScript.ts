import { COUNTED_FIELD, JOB_ERROR_FIELD } from './jobFields.ts';

/**
 * The one Lua script that places a job in taskpool's per-task counts (see `taskCounts.ts`), from the job's real
 * state in BullMQ's structures. It is idempotent: the job hash's `tpCounted` field says where the job is
 * counted now, so a second call for the same state changes nothing, and an outcome (completed, failed) is added
 * to the minute's statistics only on the call that moves the job there.
 *
 * Every key is declared (Redis Cluster): with a hash-tagged prefix they all share one slot.
 *
 * KEYS: 1 job hash, 2 its lock, 3 completed, 4 failed, 5 delayed, 6 prioritized, 7 waiting-children (BullMQ's);
 *       8 queued, 9 prioritized, 10 active (ours, sorted sets), 11 latest failure messages (hash),
 *       12 the queue's counted task names (set), 13 the current minute's statistics (hash),
 *       14.. one failed set per reason, in the order of ARGV 7..
 * ARGV: 1 job id, 2 task, 3 now (ms), 4 statistics TTL (s), 5 BullMQ's stalled-limit failedReason,
 *       6 duration bucket bounds (ms, comma-separated), 7.. the counted failure reasons.
 *
 * Sets: `q` queued (score: when it is due; delayed jobs have a later score), `p` prioritized (score: added),
 * `a` active (score: started), `f:<reason>` failed (score: failed). `d` is a completed job (counted in the
 * minute statistics only). Returns where the job is counted now, or false.
 */
/**
 * Lua that adds one completed job of `task` to a minute's statistics hash: its count, and its run time
 * (`finished - started`, ms) in the duration bucket that `bounds` (comma-separated ms) gives. Arguments are
 * Lua expressions. Shared by {@link COUNT_SCRIPT} and {@link COMPLETED_COUNT_SCRIPT}.
 */
function completedStatsLua(v: { stats: string; task: string; started: string; finished: string; bounds: string }): string {
  return `redis.call('HINCRBY', ${v.stats}, ${v.task} .. ':completed', 1)
      local started, finished = tonumber(${v.started}), tonumber(${v.finished})
      if started and finished then
        local ms, bucket = math.max(0, finished - started), 0
        for bound in string.gmatch(${v.bounds}, '[^,]+') do
          if ms <= tonumber(bound) then break end
          bucket = bucket + 1
        end
        redis.call('HINCRBY', ${v.stats}, ${v.task} .. ':b:' .. bucket, 1)
      end`;
}

export const COUNT_SCRIPT = `
-- ${COUNTED_FIELD} and ${JOB_ERROR_FIELD} are the job-hash fields of jobFields.ts.
local id, task, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local reasons = {}
for i = 7, #ARGV do reasons[ARGV[i]] = 13 + (i - 6) end
local f = redis.call('HMGET', KEYS[1], '${COUNTED_FIELD}', 'timestamp', 'processedOn', 'finishedOn', '${JOB_ERROR_FIELD}', 'failedReason')
local marker, exists = f[1], f[2] ~= false
local target, score, reason, message = false, now, nil, nil
if not exists then
  target = false
elseif redis.call('ZSCORE', KEYS[3], id) then
  target = 'd'
elseif redis.call('ZSCORE', KEYS[4], id) then
  reason, message = 'unknown', f[6] or ''
  if f[5] then
    reason = 'error'
    local ok, err = pcall(cjson.decode, f[5])
    if ok and type(err) == 'table' then
      if type(err.reason) == 'string' then reason = err.reason end
      if type(err.message) == 'string' then message = err.message end
    end
  elseif f[6] == ARGV[5] then
    reason = 'stalled'
  end
  if not reasons[reason] then reason = 'error' end
  target, score = 'f:' .. reason, tonumber(f[4]) or now
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  target, score = 'a', tonumber(f[3]) or now
else
  local due = redis.call('ZSCORE', KEYS[5], id)
  if due then
    target, score = 'q', math.floor(tonumber(due) / 4096)
  elseif redis.call('ZSCORE', KEYS[6], id) then
    target, score = 'p', tonumber(f[2]) or now
  elseif redis.call('ZSCORE', KEYS[7], id) then
    target = false
  else
    target, score = 'q', tonumber(f[2]) or now
  end
end
local function setOf(where)
  if where == 'q' then return KEYS[8] elseif where == 'p' then return KEYS[9] elseif where == 'a' then return KEYS[10] end
  if where and string.sub(where, 1, 2) == 'f:' then
    local k = reasons[string.sub(where, 3)]
    if k then return KEYS[k] end
  end
  return nil
end
if not exists then
  -- Gone (removed, or its hash expired): out of every set, since its marker went with it.
  for k = 8, 10 do redis.call('ZREM', KEYS[k], id) end
  for k = 14, #KEYS do redis.call('ZREM', KEYS[k], id) end
  return false
end
local into = setOf(target)
if marker ~= target then
  local from = setOf(marker)
  if from then redis.call('ZREM', from, id) end
  if target then redis.call('HSET', KEYS[1], '${COUNTED_FIELD}', target) else redis.call('HDEL', KEYS[1], '${COUNTED_FIELD}') end
  if into then redis.call('SADD', KEYS[12], task) end
  if target == 'd' or reason then
    local stats = KEYS[13]
    if target == 'd' then
      ${completedStatsLua({ stats: 'stats', task: 'task', started: 'f[3]', finished: 'f[4]', bounds: 'ARGV[6]' })}
    else
      redis.call('HINCRBY', stats, task .. ':failed', 1)
      redis.call('HINCRBY', stats, task .. ':r:' .. reason, 1)
    end
    redis.call('EXPIRE', stats, ARGV[4])
  end
end
if into then redis.call('ZADD', into, score, id) end
if reason then
  local at = tonumber(redis.call('HGET', KEYS[11], reason .. '@') or '0')
  if score >= at then redis.call('HSET', KEYS[11], reason, message, reason .. '@', score) end
end
return target
`;

/**
 * The counts of jobs BullMQ has just completed in one queue, in one call and a few keys per job instead of
 * {@link COUNT_SCRIPT}'s 25: for each job in the completed set and counted as queued, prioritized or active (or
 * already as completed: then nothing), the same placement and statistics; for any other, `'general'` and
 * nothing done, for {@link COUNT_SCRIPT} to place it from its real state (a job removed at completion, one
 * counted as failed and retried by hand).
 *
 * KEYS: 1 completed (BullMQ's), 2 the current minute's statistics; then 4 per job j (from 0): 3+4j its hash,
 *       4+4j queued, 5+4j prioritized, 6+4j active (ours, of its task).
 * ARGV: 1 statistics TTL (s), 2 duration bucket bounds (ms, comma-separated); then 2 per job: 3+2j its id,
 *       4+2j its task. Returns `'d'` or `'general'` per job, in order.
 */
export const COMPLETED_COUNT_SCRIPT = `
-- ${COUNTED_FIELD} is the job-hash field of jobFields.ts.
local results, stats, counted = {}, KEYS[2], false
for j = 0, (#ARGV - 2) / 2 - 1 do
  local id, task, k = ARGV[3 + 2 * j], ARGV[4 + 2 * j], 3 + 4 * j
  local result = 'd'
  if not redis.call('ZSCORE', KEYS[1], id) then
    result = 'general'
  else
    local f = redis.call('HMGET', KEYS[k], '${COUNTED_FIELD}', 'processedOn', 'finishedOn')
    local marker = f[1]
    if marker == 'q' then redis.call('ZREM', KEYS[k + 1], id)
    elseif marker == 'p' then redis.call('ZREM', KEYS[k + 2], id)
    elseif marker == 'a' then redis.call('ZREM', KEYS[k + 3], id)
    elseif marker and marker ~= 'd' then result = 'general' end
    if result == 'd' and marker ~= 'd' then
      redis.call('HSET', KEYS[k], '${COUNTED_FIELD}', 'd')
      ${completedStatsLua({ stats: 'stats', task: 'task', started: 'f[2]', finished: 'f[3]', bounds: 'ARGV[2]' })}
      counted = true
    end
  end
  results[j + 1] = result
end
if counted then redis.call('EXPIRE', stats, ARGV[1]) end
return results
`;

/**
 * The counts of plain jobs just added to one queue (not delayed, prioritized nor a flow's child: the caller
 * sends those to {@link COUNT_SCRIPT}), in one call and two keys per job instead of 25: a job not counted
 * anywhere yet and not finished is counted as queued (score: its `timestamp`). A job already counted (a worker
 * placed it first, or the add was of an id that existed) or gone is left alone; a finished one not yet counted
 * (its worker's count is batched) gives `'general'`, for {@link COUNT_SCRIPT} to place it. A job a worker has
 * started but not yet counted is counted as queued here, and its worker's count moves it on from there.
 *
 * KEYS: 1 the queue's counted task names (set); then 2 per job j (from 0): 2+2j its hash, 3+2j queued (ours, of
 *       its task). ARGV: 2 per job: 1+2j its id, 2+2j its task.
 * Returns `'q'`, `'counted'`, `'gone'` or `'general'` per job.
 */
export const ADDED_COUNT_SCRIPT = `
-- ${COUNTED_FIELD} is the job-hash field of jobFields.ts.
local results, named = {}, {}
for j = 0, #ARGV / 2 - 1 do
  local id, task, k = ARGV[1 + 2 * j], ARGV[2 + 2 * j], 2 + 2 * j
  local f = redis.call('HMGET', KEYS[k], '${COUNTED_FIELD}', 'timestamp', 'finishedOn')
  local result = 'q'
  if f[2] == false then
    result = 'gone'
  elseif f[1] then
    result = 'counted'
  elseif f[3] then
    result = 'general'
  else
    redis.call('ZADD', KEYS[k + 1], tonumber(f[2]), id)
    redis.call('HSET', KEYS[k], '${COUNTED_FIELD}', 'q')
    if not named[task] then
      redis.call('SADD', KEYS[1], task)
      named[task] = true
    end
  end
  results[j + 1] = result
end
return results
`;
