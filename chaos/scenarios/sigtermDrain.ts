import type { Scenario } from '../scenario.ts';
import { startRedisBackend, type RedisBackend } from '../redisBackend.ts';

/**
 * The shutdown grace of this scenario, ms (default 30 s): shorter than the longest tasks (up to 2 s), so a
 * drain both lets jobs finish and puts the ones still running at the end of the grace back to waiting.
 */
const SHUTDOWN_GRACE_MS = 1_000;

/**
 * SIGTERM drain, a rolling deploy: two workers under a steady load of tasks of 0.2 to 2 s; at 30% of the
 * submits worker 0 gets SIGTERM, and once it has exited it is started again; at 60%, the same for worker 1.
 */
export const sigtermDrain: Scenario<RedisBackend> = {
  name: 'sigtermDrain',
  fault: `SIGTERM of each of two workers in turn (30% and 60% of submits), restarted once drained; shutdown grace ${SHUTDOWN_GRACE_MS} ms`,
  workload: {
    tasks: 100,
    submitPerS: 2.5,
    taskMs: (i) => 200 + ((i * 7_919) % 1_800),
    workers: 2,
    concurrency: 2,
    workerEnv: { TASKPOOL_SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS) },
  },
  targets: {},
  startBackend: (dir) => startRedisBackend(dir),
  async inject(ctx) {
    for (const [slot, at] of [[0, 0.3], [1, 0.6]] as const) {
      await ctx.submitted(at);
      const fault = ctx.fault('SIGTERM worker', ctx.workers.at(slot)!.sandboxPids());
      await ctx.workers.sigterm(slot, 60_000);
      fault.endedAt = Date.now();
      await ctx.workers.restart(slot);
    }
  },
};
