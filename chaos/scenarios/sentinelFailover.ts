import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../redisBackend.ts';
import type { Scenario } from '../scenario.ts';

/** The part of `test/helpers/redisSentinel.ts`'s group this scenario uses: a master, a replica and three sentinels on 127.0.0.1. */
interface SentinelGroup {
  /** `redis-sentinel://...`: the address clients and workers take. */
  url: string;
  /** SIGKILL to the master; resolves once it has exited. */
  killMaster(): Promise<void>;
  /** Resolves once the sentinels name the promoted replica as master. */
  waitForFailover(): Promise<unknown>;
  close(): Promise<void>;
}

type StartSentinelGroup = (options: { dir: string }) => Promise<SentinelGroup>;

type SentinelBackend = Backend & { group: SentinelGroup };

// A URL, not a literal import: the helper may not exist in this checkout, and the suite must still run.
const HELPER = new URL('../../test/helpers/redisSentinel.ts', import.meta.url);

/**
 * Sentinel failover: two workers under a steady load on a master with a replica, watched by sentinels; at 40%
 * of the submits the master is killed, and the run goes on once a sentinel has promoted the replica.
 */
export const sentinelFailover: Scenario<SentinelBackend> = {
  name: 'sentinelFailover',
  fault: 'the master of a Sentinel group killed at 40% of submits; the replica promoted',
  workload: { tasks: 1_000, submitPerS: 40, taskMs: (i) => 50 + (i % 4) * 50, workers: 2, concurrency: 2 },
  targets: {},
  async skipReason() {
    return existsSync(fileURLToPath(HELPER)) ? undefined : 'test/helpers/redisSentinel.ts (startSentinelGroup) is not in this checkout';
  },
  async startBackend(dir) {
    const { startSentinelGroup } = (await import(HELPER.href)) as { startSentinelGroup: StartSentinelGroup };
    const group = await startSentinelGroup({ dir });
    return { url: group.url, group, stop: () => group.close() };
  },
  async inject(ctx) {
    await ctx.submitted(0.4);
    const fault = ctx.fault('kill master');
    await ctx.backend.group.killMaster();
    await ctx.backend.group.waitForFailover();
    fault.endedAt = Date.now();
  },
};
