/**
 * The task every chaos scenario runs: sleeps `ms` (a stand-in for work), then returns a digest of its input,
 * so a result given to the wrong job, or made up, shows as wrong. Each execution's start and end go to the
 * run's execution log (`executionLog.ts`), from which the runner counts executions per job.
 */
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { defineTask } from '@taskpool/core/task';
import { z } from 'zod';
import { recordExecution } from './executionLog.ts';

/** Attempts of every chaos job: the "attempts left" of the failed-jobs target are counted against this. */
export const CHAOS_ATTEMPTS = 5;

/** What a correct run of `chaos.work` returns in `digest` for input index `i`. */
export function expectedDigest(i: number): string {
  return createHash('sha256').update(`chaos:${i}`).digest('hex').slice(0, 16);
}

/** Sleeps `ms`, then returns its index, the digest of it and the pid of the sandbox that ran it. */
export const chaosWork = defineTask({
  name: 'chaos.work',
  input: z.object({ i: z.number().int().min(0), ms: z.number().int().min(0) }),
  output: z.object({ i: z.number().int(), digest: z.string(), pid: z.number().int() }),
  // Attempts as a user who wants retries sets them; backoff is the default (exponential from 1 s).
  defaults: { queue: 'chaos', attempts: CHAOS_ATTEMPTS },
  run: async ({ i, ms }, ctx) => {
    recordExecution('start', ctx, i);
    await delay(ms, undefined, { signal: ctx.signal });
    recordExecution('end', ctx, i);
    return { i, digest: expectedDigest(i), pid: process.pid };
  },
});
