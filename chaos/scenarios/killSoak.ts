import { setTimeout as delay } from 'node:timers/promises';
import { startRedisBackend, type RedisBackend } from '../redisBackend.ts';
import type { FaultContext, Scenario } from '../scenario.ts';

/** Time between two kills: 1 to 3 s, seeded. */
const KILL_EVERY_MS = [1_000, 3_000] as const;
/** Of the kills, this share hits a whole worker; the rest a sandbox. */
const WORKER_KILL_SHARE = 0.25;
/** A killed worker is started again this long after (a supervisor's restart delay). */
const RESTART_AFTER_MS = 1_000;

/**
 * kill -9 soak: three workers of two sandboxes under a steady load; every 1-3 s a random sandbox, or (one
 * kill in four) a whole worker, gets SIGKILL; a killed worker is started again 1 s later. Kills stop at 85% of
 * the submits, so the tail shows how long the last ones take to recover.
 */
export const killSoak: Scenario<RedisBackend> = {
  name: 'killSoak',
  fault: 'kill -9 of a random sandbox (3 kills in 4) or whole worker (1 in 4, restarted 1 s later) every 1-3 s',
  workload: { tasks: 3_000, submitPerS: 60, taskMs: (i) => 20 + (i % 5) * 20, workers: 3, concurrency: 2 },
  targets: { recoveryS: 15 },
  startBackend: (dir) => startRedisBackend(dir),
  async inject(ctx) {
    await ctx.submitted(0.1);
    const restarts: Promise<unknown>[] = [];
    while (ctx.progress() < 0.85) {
      await delay(KILL_EVERY_MS[0] + ctx.random() * (KILL_EVERY_MS[1] - KILL_EVERY_MS[0]));
      const live = ctx.workers.live();
      const worker = live[Math.floor(ctx.random() * live.length)];
      if (!worker) continue;
      // Keep one worker alive at least, as a deployment of several would.
      if (ctx.random() < WORKER_KILL_SHARE && live.length > 1) restarts.push(killWorker(ctx, worker.slot, worker.sandboxPids()));
      else killSandbox(ctx, worker.sandboxPids());
    }
    await Promise.all(restarts);
  },
};

function killSandbox(ctx: FaultContext<RedisBackend>, pids: number[]): void {
  const pid = pids[Math.floor(ctx.random() * pids.length)];
  if (pid === undefined) return;
  ctx.fault('kill -9 sandbox', [pid]);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // It exited on its own (recycled) just now: the fault hit nothing.
  }
}

async function killWorker(ctx: FaultContext<RedisBackend>, slot: number, sandboxPids: number[]): Promise<void> {
  ctx.fault('kill -9 worker', sandboxPids);
  await ctx.workers.kill9(slot);
  await delay(RESTART_AFTER_MS);
  await ctx.workers.restart(slot);
}
