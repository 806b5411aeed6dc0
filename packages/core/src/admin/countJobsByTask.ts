import type { RedisClient } from '../redisConnection.ts';
import { readTaskCounts, type CountedReason } from '../store/taskCounts.ts';

/** The states counted per task. Completed jobs are not: their numbers come from the per-minute statistics. */
export type CountedState = 'waiting' | 'active' | 'delayed' | 'prioritized' | 'failed';

/** Failed jobs of one task with one failure reason. */
export interface FailureGroup {
  reason: CountedReason;
  count: number;
  /** The message of the most recent failure in the group. */
  message: string;
}

/** One task's jobs in one queue. */
export interface TaskJobCounts {
  task: string;
  counts: Record<CountedState, number>;
  /** Failed jobs grouped by the reason in their `tpError` (`unknown` when the worker wrote none), most first. */
  failures: FailureGroup[];
}

/** What {@link countJobsByTask} found. */
export interface QueueTaskCounts {
  queue: string;
  tasks: TaskJobCounts[];
}

/**
 * Counts a queue's waiting, active, delayed, prioritized and failed jobs per task, and groups the failed ones by
 * failure reason, from the counts kept as jobs move (`store/taskCounts.ts`): a fixed number of commands per
 * task, whatever the number of jobs. Failed jobs count while they are kept (`failedWindowMs`).
 */
export async function countJobsByTask(redis: RedisClient, options: { prefix: string; queue: string; failedWindowMs: number }): Promise<QueueTaskCounts> {
  const rows = await readTaskCounts(redis, options);
  const tasks = rows.map(({ task, waiting, delayed, prioritized, active, failures }): TaskJobCounts => {
    const failed = failures.reduce((sum, group) => sum + group.count, 0);
    return { task, counts: { waiting, active, delayed, prioritized, failed }, failures };
  });
  return { queue: options.queue, tasks };
}
