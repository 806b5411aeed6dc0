import { Queue, type Job, type Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { AnyTask } from '../defineTask.ts';
import { queueOf } from '../taskContract.ts';
import type { RedisClient } from '../redisConnection.ts';
import { gateLimitsOf, promoteAdmitted, taskGate } from '../flowControl/taskGate.ts';
import { releaseGate, scanAdmitted, stillGated, type Gate } from '../store/flowGate.ts';
import { jobKey } from '../store/jobKeys.ts';

/** How often a worker checks its gates' admitted jobs for slots nobody gave back, ms. */
export const GATE_RECONCILE_MS = 5_000;
/** A delayed job due later than this from now is one the gate holds (its backoff is never this long), ms. */
const GATE_HELD_AFTER_MS = 365 * 86_400_000;

/** What {@link keepGates} gives back. */
export interface GateKeeping {
  /** Stops the reconcile timer and closes its queues (the releases under way finish first). */
  stop(): Promise<void>;
}

/**
 * Keeps the admission gates (`store/flowGate.ts`) of the gated tasks of `queues` (`redis` runs the gate's scripts,
 * `queueConnection` BullMQ's promotes), hearing the outcomes of `workers` (a queue fetched by its sandboxes
 * themselves, `fetch: 'sandbox'`, is left to the reconcile: its slots come back within 5 s of each outcome): when a gated job ends
 * (completed, or failed: its slot is freed only once it is finished for good), its slot goes back and the jobs
 * then admitted are promoted, the outcomes of one turn together. Every {@link GATE_RECONCILE_MS} it also frees
 * the slots of admitted jobs that finished or vanished without that (a worker killed between the two, a job
 * removed by hand), promotes admitted jobs a crash left delayed, and admits what the limits allow.
 */
export function keepGates(workers: readonly Worker[], options: { queues: readonly string[]; tasks: ReadonlyMap<string, AnyTask>; redis: RedisClient; queueConnection: RedisClient; prefix: string; logger: Logger }): GateKeeping {
  const { tasks, redis, prefix, logger } = options;
  const served = new Set(options.queues);
  const gates = new Map<string, { gate: Gate; queue: Queue }>();
  for (const task of tasks.values()) {
    const limits = gateLimitsOf(task);
    const queueName = queueOf(task);
    if (!limits || !served.has(queueName)) continue;
    gates.set(task.name, { gate: taskGate(redis, prefix, queueName, task.name, limits), queue: new Queue(queueName, { connection: options.queueConnection, prefix }) });
  }
  if (gates.size === 0) return { stop: async () => undefined };
  const inFlight = new Set<Promise<void>>();
  const track = (work: Promise<void>): void => {
    const tracked = work.catch((err: unknown) => logger.warn({ event: 'gate:release-failed', err }, 'Could not give back gate slots (the reconcile will)'));
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
  };
  let ended = new Map<string, string[]>();
  let scheduled = false;
  const ending = (job: Job | undefined): void => {
    if (!job?.id || !gates.has(job.name)) return;
    const ids = ended.get(job.name) ?? [];
    ids.push(job.id);
    ended.set(job.name, ids);
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const batch = ended;
      ended = new Map();
      for (const [task, ids] of batch) {
        const { gate, queue } = gates.get(task)!;
        track(releaseGate(gate, ids, ids.map((id) => jobKey(prefix, gate.queue, id))).then(({ admitted }) => promoteAdmitted(gate, queue, admitted)));
      }
    });
  };
  for (const worker of workers) {
    worker.on('completed', ending);
    worker.on('failed', ending);
  }
  const admitNow = async ({ gate, queue }: { gate: Gate; queue: Queue }): Promise<void> => {
    const { admitted } = await releaseGate(gate, [], []);
    await promoteAdmitted(gate, queue, admitted);
  };
  const reconcile = async ({ gate, queue }: { gate: Gate; queue: Queue }): Promise<void> => {
    let cursor = '0';
    do {
      const scan = await scanAdmitted(gate, cursor);
      cursor = scan.cursor;
      if (scan.ids.length === 0) continue;
      const { freed, admitted } = await releaseGate(gate, scan.ids, scan.ids.map((id) => jobKey(prefix, gate.queue, id)));
      if (freed > 0) logger.info({ event: 'gate:reconciled', task: gate.task, freed }, 'Gave back the gate slots of jobs that ended without giving them back');
      await promoteAdmitted(gate, queue, [...admitted, ...(await stillGated(gate, scan.ids, Date.now() + GATE_HELD_AFTER_MS))]);
    } while (cursor !== '0');
    // Admits what the limits allow now (e.g. after a worker died holding the release of a slot).
    await admitNow({ gate, queue });
  };
  const timer = setInterval(() => {
    for (const entry of gates.values()) track(reconcile(entry));
  }, GATE_RECONCILE_MS).unref();
  // A rate-limited gate admits the jobs whose key got a token since: one admission per token's time, 20 ms to 1 s.
  const ticks = [...gates.values()]
    .filter(({ gate }) => gate.limits.rateMax > 0)
    .map((entry) => {
      const everyMs = Math.min(1_000, Math.max(20, Math.floor(entry.gate.limits.rateMs / entry.gate.limits.rateMax)));
      return setInterval(() => track(admitNow(entry)), everyMs).unref();
    });
  return {
    async stop() {
      clearInterval(timer);
      for (const tick of ticks) clearInterval(tick);
      await Promise.all(inFlight);
      await Promise.all([...gates.values()].map(({ queue }) => queue.close()));
    },
  };
}
