import { setTimeout as delay } from 'node:timers/promises';
import { startRedisBackend, type RedisBackend } from '../redisBackend.ts';
import type { Scenario } from '../scenario.ts';

/** How long Redis stays down before it is started again (a supervisor's restart). */
const DOWN_MS = 2_000;

/**
 * Redis kill -9 with an append-only file: two workers under a steady load; at 40% of the submits redis-server
 * gets SIGKILL and is started again 2 s later on the same port and data directory, so it reloads its AOF. With
 * `everysec`, up to a second of acknowledged writes may be gone (Redis's documented window); with `always`, none.
 */
export function redisKill(fsync: 'everysec' | 'always'): Scenario<RedisBackend> {
  return {
    name: `redisKillAof${fsync === 'always' ? 'Always' : 'Everysec'}`,
    fault: `kill -9 of redis-server (appendonly yes, appendfsync ${fsync}) at 40% of submits, restarted ${DOWN_MS / 1000} s later from its AOF`,
    workload: { tasks: 1_500, submitPerS: 50, taskMs: (i) => 50 + (i % 4) * 50, workers: 2, concurrency: 2 },
    targets: {},
    startBackend: (dir) => startRedisBackend(dir, fsync),
    async inject(ctx) {
      await ctx.submitted(0.4);
      const fault = ctx.fault('kill -9 redis-server');
      await ctx.backend.kill9();
      await delay(DOWN_MS);
      await ctx.backend.restart();
      fault.endedAt = Date.now();
    },
  };
}
