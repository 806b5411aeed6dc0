import { eventually } from '../../test/helpers/spawnService.ts';
import { startDropProxy, type DropProxy } from '../../test/helpers/dropProxy.ts';
import { startRedisBackend, type RedisBackend } from '../redisBackend.ts';
import type { Scenario } from '../scenario.ts';

/** The partition lasts until the cut-off worker's jobs are finished elsewhere, or this long at most. */
const PARTITION_CAP_MS = 120_000;
/** The cut-off worker is the one in this slot; the others reach Redis directly. */
const CUT_OFF_SLOT = 0;

/** The run's Redis, and the proxy the cut-off worker reaches it through. */
export type PartitionBackend = RedisBackend & { proxy: DropProxy };

/**
 * Partition: two workers under a steady load, one reaching Redis through a proxy. At 30% of the submits the
 * proxy stops forwarding (both ways, sockets left open: `test/helpers/dropProxy.ts`) while that worker runs jobs, and
 * stays so until those jobs have been finished by the other worker (or 2 min at most), for longer than the lock
 * whatever it is; then it forwards again, and whatever the cut-off worker sends late must be dropped.
 */
export const partition: Scenario<PartitionBackend> = {
  name: 'partition',
  fault: 'one of two workers cut off from Redis (a proxy stops forwarding, sockets open) until its jobs are finished elsewhere, then healed',
  workload: { tasks: 600, submitPerS: 15, taskMs: (i) => 100 + (i % 4) * 100, workers: 2, concurrency: 2 },
  targets: { recoveryS: 15, lateResultsDropped: true },
  async startBackend(dir) {
    const redis = await startRedisBackend(dir);
    const proxy = await startDropProxy(redis.url);
    const stopRedis = redis.stop;
    // Assigned onto the backend (not spread) to keep its live `pid` getter.
    return Object.assign(redis, {
      proxy,
      async stop() {
        await proxy.close();
        await stopRedis();
      },
    });
  },
  workerUrl: (slot, backend) => (slot === CUT_OFF_SLOT ? backend.proxy.url : backend.url),
  async inject(ctx) {
    await ctx.submitted(0.3);
    const worker = ctx.workers.at(CUT_OFF_SLOT)!;
    const pids = worker.sandboxPids();
    // Cut it off while it runs something, so there is work to take over.
    await eventually(() => ctx.running(pids).length > 0, 'the worker to be cut off to run a job', 30_000, 10);
    const fault = ctx.fault('partition', pids);
    ctx.backend.proxy.blackhole(true);
    const hit = ctx.running(pids);
    const done = await ctx.finished(hit, PARTITION_CAP_MS);
    ctx.log(`  ${hit.length} jobs of the cut-off worker ${done ? 'finished elsewhere' : `not all finished after ${PARTITION_CAP_MS / 1000} s`}; healing`);
    ctx.backend.proxy.blackhole(false);
    fault.endedAt = Date.now();
  },
};
