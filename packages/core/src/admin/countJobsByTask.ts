import type { Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import type { FailureReason } from '../serializeError.ts';

/** The states counted per task. Completed jobs are not: their numbers come from the producer's statistics. */
export type CountedState = 'waiting' | 'active' | 'delayed' | 'prioritized' | 'failed';

/** Failed jobs of one task with one failure reason. */
export interface FailureGroup {
  reason: FailureReason | 'unknown';
  count: number;
  /** The message of the most recent failure in the group. */
  message: string;
}

/** One task's jobs in one queue. */
export interface TaskJobCounts {
  task: string;
  counts: Record<CountedState, number>;
  /** Failed jobs grouped by the reason in their `tpError` (`unknown` when the worker wrote none). */
  failures: FailureGroup[];
}

/** What {@link countJobsByTask} found. */
export interface QueueTaskCounts {
  queue: string;
  tasks: TaskJobCounts[];
  /** True when a state held more than `cap` jobs: the counts are then of the newest `cap` only. */
  capped: boolean;
}

/** BullMQ's key suffixes (lists and sorted sets) behind each counted state; newest first. */
const STATE_KEYS: [CountedState, string][] = [
  ['waiting', 'wait'],
  ['waiting', 'paused'],
  ['active', 'active'],
  ['delayed', 'delayed'],
  ['prioritized', 'prioritized'],
  ['failed', 'failed'],
];

/**
 * One pass in Redis over a queue's unfinished and failed jobs, counting them by job name (= task), and
 * the failed ones by the `reason` of their `tpError`. BullMQ counts per queue only; several tasks share
 * a queue. At most `cap` jobs per state are read (newest first), so a large backlog costs a bounded time.
 */
const COUNT_SCRIPT = `
local base, cap = ARGV[1], tonumber(ARGV[2])
local out, capped = {}, 0
for i = 3, #ARGV, 2 do
  local state, key = ARGV[i], base .. ARGV[i + 1]
  local kind = redis.call('TYPE', key).ok
  local ids = {}
  if kind == 'list' then
    if redis.call('LLEN', key) > cap then capped = 1 end
    ids = redis.call('LRANGE', key, 0, cap - 1)
  elseif kind == 'zset' then
    if redis.call('ZCARD', key) > cap then capped = 1 end
    ids = redis.call('ZREVRANGE', key, 0, cap - 1)
  end
  for _, id in ipairs(ids) do
    local fields = redis.call('HMGET', base .. id, 'name', 'tpError', 'failedReason')
    local name = fields[1]
    if name then
      local reason, message = '', ''
      if state == 'failed' then
        reason, message = 'unknown', fields[3] or ''
        if fields[2] then
          local ok, err = pcall(cjson.decode, fields[2])
          if ok and type(err) == 'table' then
            if type(err.reason) == 'string' then reason = err.reason end
            if type(err.message) == 'string' then message = err.message end
          end
        end
      end
      table.insert(out, state)
      table.insert(out, name)
      table.insert(out, reason)
      table.insert(out, message)
    end
  end
end
table.insert(out, capped)
return out
`;

/**
 * Counts a queue's waiting, active, delayed, prioritized and failed jobs per task, and groups the failed ones
 * by failure reason, in one Lua call.
 *
 * @param cap - Jobs read per state at most (newest first). Default: 10,000.
 */
export async function countJobsByTask(queue: Queue, redis: RedisClient, cap = 10_000): Promise<QueueTaskCounts> {
  const args = STATE_KEYS.flat();
  const reply = (await redis.eval(COUNT_SCRIPT, 0, queue.toKey(''), String(cap), ...args)) as (string | number)[];
  const capped = reply.pop() === 1;
  const byTask = new Map<string, TaskJobCounts>();
  for (let i = 0; i < reply.length; i += 4) {
    const [state, task, reason, message] = reply.slice(i, i + 4).map(String) as [CountedState, string, string, string];
    let entry = byTask.get(task);
    if (!entry) {
      entry = { task, counts: { waiting: 0, active: 0, delayed: 0, prioritized: 0, failed: 0 }, failures: [] };
      byTask.set(task, entry);
    }
    entry.counts[state]++;
    if (state !== 'failed') continue;
    const group = entry.failures.find((g) => g.reason === reason);
    // Newest first, so the first message seen is the latest.
    if (group) group.count++;
    else entry.failures.push({ reason: reason as FailureGroup['reason'], count: 1, message });
  }
  for (const entry of byTask.values()) entry.failures.sort((a, b) => b.count - a.count);
  return { queue: queue.name, tasks: [...byTask.values()].sort((a, b) => a.task.localeCompare(b.task)), capped };
}
