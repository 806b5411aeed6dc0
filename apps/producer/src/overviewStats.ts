import { queueOf, type AnyTask, type FailureGroup, type ObjectUsage, type QueueCounts, type TaskJobCounts, type TaskpoolAdmin, type WorkerInfo } from '@taskpool/core';
import { readLastHour, type HourStats } from '@taskpool/core/internal';

/** One task in the overview. */
export interface TaskOverview {
  name: string;
  queue: string;
  counts: TaskJobCounts['counts'];
  /** Failed jobs (still kept) grouped by reason, with the latest message of each group. */
  failures: FailureGroup[];
  lastHour: HourStats;
}

/** `GET /v1/stats`: what the dashboard shows and `taskpool stats` prints. */
export interface OverviewStats {
  generatedAt: number;
  prefix: string;
  queues: QueueCounts[];
  tasks: TaskOverview[];
  workers: WorkerInfo[];
  /** Objects by reference in the stores, and their bytes. */
  objects: ObjectUsage;
}

const NO_COUNTS: TaskJobCounts['counts'] = { waiting: 0, active: 0, delayed: 0, prioritized: 0, failed: 0 };

/**
 * Gathers the overview in five reads: BullMQ's queue counts, the per-task counts (kept as jobs move: a fixed
 * number of commands per task), the last hour's per-minute statistics (one pipeline), the worker registry and
 * the object stores' usage (an index of sizes in Redis; a directory listing for the shared directory).
 * Tasks are the module's, plus any other job name the queues' counts hold.
 */
export async function overviewStats(admin: TaskpoolAdmin, tasks: ReadonlyMap<string, AnyTask>): Promise<OverviewStats> {
  const [queues, perQueue, workers, objects] = await Promise.all([admin.queueCounts(), admin.taskCounts(), admin.workers(), admin.objectUsage()]);
  const names = new Map<string, string>([...tasks.values()].map((task) => [task.name, queueOf(task)]));
  for (const { queue, tasks: found } of perQueue) for (const { task } of found) if (!names.has(task)) names.set(task, queue);
  const hour = await readLastHour(admin.redis, admin.prefix, [...names.keys()]);
  const overview = [...names.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, queue]): TaskOverview => {
      const counted = perQueue.find((q) => q.queue === queue)?.tasks.find((t) => t.task === name);
      return { name, queue, counts: counted?.counts ?? NO_COUNTS, failures: counted?.failures ?? [], lastHour: hour.get(name)! };
    });
  return { generatedAt: Date.now(), prefix: admin.prefix, queues, tasks: overview, workers, objects };
}
