import type { WorkerInfo } from '@taskpool/core';
import type { OverviewStats } from '../overviewStats.ts';
import type { Command } from './command.ts';
import { formatMs, table } from './output.ts';

/** `taskpool workers`: the live workers, their sandboxes and last heartbeat. */
export const workers: Command = async (ctx) => {
  const { workers: list } = await ctx.api.get<{ workers: WorkerInfo[] }>('/v1/workers');
  if (ctx.flags.json) {
    ctx.out(JSON.stringify(list));
    return 0;
  }
  if (list.length === 0) {
    ctx.out('No live worker.');
    return 0;
  }
  const now = Date.now();
  const rows = list.map((w) => [
    w.host,
    w.pid,
    w.healthy === false ? 'UNHEALTHY' : 'ok',
    `${w.busy}/${w.concurrency}`,
    `${Math.round(w.rssMb + w.sandboxes.reduce((sum, s) => sum + s.rssMb, 0))} MB`,
    `${Math.round(w.sandboxes.reduce((sum, s) => sum + s.cpuPercent, 0))} %`,
    w.tasksDone,
    w.tasksFailed,
    `${Math.round((now - w.heartbeatAt) / 1000)} s ago`,
    w.queues.join(','),
  ]);
  ctx.out(table(['HOST', 'PID', 'HEALTH', 'BUSY', 'RSS', 'CPU', 'DONE', 'FAILED', 'HEARTBEAT', 'QUEUES'], rows));
  return 0;
};

/** `taskpool stats`: per task counts and the last hour; per queue counts; live workers. */
export const stats: Command = async (ctx) => {
  const overview = await ctx.api.get<OverviewStats>('/v1/stats');
  if (ctx.flags.json) {
    ctx.out(JSON.stringify(overview));
    return 0;
  }
  const rows = overview.tasks.map((t) => [
    t.name,
    t.queue,
    t.counts.waiting + t.counts.prioritized,
    t.counts.active,
    t.counts.delayed,
    t.counts.failed,
    t.lastHour.completed,
    t.lastHour.failed,
    formatMs(t.lastHour.p50Ms),
    formatMs(t.lastHour.p95Ms),
  ]);
  ctx.out(table(['TASK', 'QUEUE', 'WAITING', 'ACTIVE', 'DELAYED', 'FAILED', 'DONE/1H', 'FAILED/1H', 'P50', 'P95'], rows));
  const busy = overview.workers.reduce((sum, w) => sum + w.busy, 0);
  const total = overview.workers.reduce((sum, w) => sum + w.concurrency, 0);
  ctx.out(`\n${overview.workers.length} live worker(s), ${busy}/${total} sandboxes busy`);
  const { redis: inRedis, dir, ownedByJobs } = overview.objects;
  ctx.out(`objects: ${inRedis.objects} in Redis (${inRedis.bytes} bytes)${dir ? `, ${dir.objects} in the shared directory (${dir.bytes} bytes)` : ''}; ${ownedByJobs} owned by jobs`);
  for (const t of overview.tasks) for (const f of t.failures) ctx.out(`failed ${t.name} (${f.reason}) x${f.count}: ${f.message}`);
  return 0;
};
