import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { processUsage } from './processUsage.ts';

const JOBS = Number(process.env.BENCH_LEAN_JOBS ?? 20_000);
const BATCHES = [1, 8, 32];
const LOCK_MS = 30_000;

/**
 * TAKE: KEYS 1 wait, 2 active, 3 events; ARGV 1 K, 2 lock token, 3 lock ms, 4 now, 5 job key prefix.
 * FINISH: KEYS 1 active, 2 completed, 3 events; ARGV 1 lock token, 2 job key prefix, 3 now, then id and
 * return value per job.
 *
 * A measurement probe for the lean lane proposed in docs/architecture.md ("Per-job floor"): not used by taskpool.
 * What would Redis spend per job if plain jobs were taken and finished by short scripts of taskpool's own, K at a
 * time, on BullMQ's structures (wait and active lists, `:lock` keys, the completed set, the event stream),
 * beside BullMQ's `Worker` (processor function, concurrency 2) consuming the same jobs? Jobs are added by
 * BullMQ's `addBulk` before each side; the figures count consumption only (INFO commandstats reset after the
 * adds): Redis's CPU, its script time, and this process's CPU per job. The probe's scripts build job keys from
 * the prefix, as BullMQ's do; a product version would keep them in the store layer.
 */
const TAKE = `
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
  if not id then break end
  local key = ARGV[5] .. id
  redis.call('SET', key .. ':lock', ARGV[2], 'PX', ARGV[3])
  redis.call('HSET', key, 'processedOn', ARGV[4])
  redis.call('HINCRBY', key, 'ats', 1)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'event', 'active', 'jobId', id, 'prev', 'waiting')
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', key, 'data')
end
return out
`;
const FINISH = `
local done = 0
for i = 4, #ARGV, 2 do
  local id, value = ARGV[i], ARGV[i + 1]
  local key = ARGV[2] .. id
  if redis.call('GET', key .. ':lock') == ARGV[1] then
    redis.call('DEL', key .. ':lock')
    redis.call('LREM', KEYS[1], -1, id)
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    redis.call('HSET', key, 'returnvalue', value, 'finishedOn', ARGV[3])
    redis.call('HINCRBY', key, 'atm', 1)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'event', 'completed', 'jobId', id, 'returnvalue', value, 'prev', 'active')
    done = done + 1
  end
end
return done
`;

interface Side {
  jobsPerS: number;
  redisCpuUs: number;
  scriptUs: number;
  clientCpuUs: number;
}

export async function leanLaneProbe(ctx: BenchContext): Promise<BenchResult> {
  const admin = new Redis(ctx.redisUrl);
  const figures: Record<string, number> = { jobs: JOBS };
  const measure = async (label: string, queueName: string, consume: () => Promise<void>): Promise<void> => {
    const queue = new Queue(queueName, { connection: { url: ctx.redisUrl }, prefix: ctx.prefix });
    try {
      for (let at = 0; at < JOBS; at += 1_000) await queue.addBulk(Array.from({ length: 1_000 }, (_, i) => ({ name: 'noop', data: { i: at + i } })));
      await admin.config('RESETSTAT');
      const redisBefore = processUsage(ctx.redisPid).cpuMs;
      const clientBefore = process.cpuUsage();
      const started = performance.now();
      await consume();
      const ms = performance.now() - started;
      const client = process.cpuUsage(clientBefore);
      const redisMs = processUsage(ctx.redisPid).cpuMs - redisBefore;
      const info = await admin.info('commandstats');
      const scriptUs = [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=\d+,usec=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      const side: Side = {
        jobsPerS: Math.round(JOBS / (ms / 1000)),
        redisCpuUs: Math.round((redisMs * 1000) / JOBS),
        scriptUs: Math.round(scriptUs / JOBS),
        clientCpuUs: Math.round((client.user + client.system) / JOBS),
      };
      for (const [name, value] of Object.entries(side)) figures[`${label}.${name}`] = value;
      ctx.log(`${label}: ${side.jobsPerS} jobs/s; Redis CPU ${side.redisCpuUs} µs per job, scripts ${side.scriptUs} µs; this process ${side.clientCpuUs} µs`);
    } finally {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    }
  };
  try {
    await measure('bullmqWorker', 'probe-bullmq', async () => {
      let done = 0;
      await new Promise<void>((resolve, reject) => {
        const worker = new Worker('probe-bullmq', async (job) => ({ i: (job.data as { i: number }).i }), { connection: { url: ctx.redisUrl }, prefix: ctx.prefix, concurrency: 2 });
        worker.on('error', reject);
        worker.on('completed', () => {
          if (++done === JOBS) void worker.close().then(resolve, reject);
        });
      });
    });
    for (const k of BATCHES) {
      const queueName = `probe-lean-${k}`;
      await measure(`lean${k}`, queueName, async () => {
        const redis = new Redis(ctx.redisUrl);
        const keyOf = (s: string): string => `${ctx.prefix}:${queueName}:${s}`;
        const token = randomUUID();
        try {
          let done = 0;
          while (done < JOBS) {
            const taken = (await redis.eval(TAKE, 3, keyOf('wait'), keyOf('active'), keyOf('events'), k, token, LOCK_MS, Date.now(), keyOf(''))) as string[];
            if (taken.length === 0) throw new Error(`lean${k}: the wait list ran dry at ${done} of ${JOBS}`);
            const args: (string | number)[] = [token, keyOf(''), Date.now()];
            for (let i = 0; i < taken.length; i += 2) args.push(taken[i]!, JSON.stringify({ v: 1, output: JSON.parse(taken[i + 1]!) as unknown }));
            done += Number(await redis.eval(FINISH, 3, keyOf('active'), keyOf('completed'), keyOf('events'), ...args));
          }
        } finally {
          redis.disconnect();
        }
      });
    }
  } finally {
    admin.disconnect();
  }
  return {
    name: 'leanLaneProbe',
    figures,
    notes:
      `${JOBS} no-op jobs per side, added by BullMQ's addBulk before each side and not counted. bullmqWorker: BullMQ's Worker, processor function, ` +
      'concurrency 2, in this process. leanK: this process takes K jobs per call and finishes them in one call with scripts of a few commands per ' +
      'job (lock, active list, completed set, returnvalue, one event each), one batch at a time. A probe of the lane proposed in docs/architecture.md, ' +
      'without its counts, retention or sandboxes: the Redis side of its budget.',
  };
}
