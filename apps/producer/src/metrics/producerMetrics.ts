import type { TaskpoolAdmin } from '@taskpool/core';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DURATION_BOUNDS_MS } from '@taskpool/core/internal';
import type { FinishedJob } from './finishedJob.ts';

/** The producer's Prometheus metrics, on a registry of its own (never prom-client's global one). */
export interface ProducerMetrics {
  readonly registry: Registry;
  /** Counts a finished job (the job-events recorder calls this for every `completed` and `failed` event). */
  record(job: FinishedJob): void;
}

/** Options of {@link createProducerMetrics}. */
export interface ProducerMetricsOptions {
  /** Reads the queue counts and the workers at scrape time. */
  admin: TaskpoolAdmin;
  /** Wraps each Redis read of a scrape (the producer's Redis deadline). */
  viaRedis<T>(call: () => Promise<T>): Promise<T>;
}

/**
 * The producer runs no task, so its metrics come from two places (see docs/architecture.md, "Metrics"):
 *
 * - **Events**: `taskpool_tasks_completed_total`, `taskpool_tasks_failed_total{reason}` and
 *   `taskpool_task_duration_seconds{outcome}` count the BullMQ `completed` / `failed` events this process
 *   read since it started (Prometheus handles the resets); every producer sees every event, so sum over one
 *   producer, or take `max` across producers, never `sum`.
 * - **Redis at scrape time**: `taskpool_queue_jobs{queue,state}` from `getJobCounts`, `taskpool_workers` and
 *   `taskpool_sandboxes{state}` from the workers' heartbeats: exact values, read when Prometheus asks, so no
 *   timer and nothing stale.
 *
 * Plus Node's process metrics, prefixed `taskpool_producer_`.
 */
export function createProducerMetrics(options: ProducerMetricsOptions): ProducerMetrics {
  const registry = new Registry();
  const { admin, viaRedis } = options;
  collectDefaultMetrics({ register: registry, prefix: 'taskpool_producer_' });

  const completed = new Counter({
    name: 'taskpool_tasks_completed_total',
    help: 'Jobs that completed, by task',
    labelNames: ['task', 'queue'] as const,
    registers: [registry],
  });
  const failed = new Counter({
    name: 'taskpool_tasks_failed_total',
    help: 'Jobs that failed for good, by task and failure reason (error, invalid, timeout, oom, cancelled, ...)',
    labelNames: ['task', 'queue', 'reason'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'taskpool_task_duration_seconds',
    help: "Duration of a finished job's last attempt, from its start on a worker to its end",
    labelNames: ['task', 'queue', 'outcome'] as const,
    buckets: DURATION_BOUNDS_MS.map((ms) => ms / 1000),
    registers: [registry],
  });

  new Gauge({
    name: 'taskpool_queue_jobs',
    help: 'Jobs in each queue by state, read from Redis at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { queue, counts } of await viaRedis(() => admin.queueCounts())) {
        for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
      }
    },
  });
  // One read of the worker registry feeds both gauges; each collect() awaits the same promise.
  let workersRead: ReturnType<TaskpoolAdmin['workers']> | undefined;
  const readWorkers = () => {
    workersRead ??= viaRedis(() => admin.workers()).finally(() => setImmediate(() => (workersRead = undefined)));
    return workersRead;
  };
  new Gauge({
    name: 'taskpool_workers',
    help: 'Worker instances whose heartbeat is fresh',
    registers: [registry],
    async collect() {
      this.set((await readWorkers()).length);
    },
  });
  new Gauge({
    name: 'taskpool_sandboxes',
    help: 'Sandbox processes of the live workers, busy or in total',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const workers = await readWorkers();
      this.set({ state: 'busy' }, workers.reduce((sum, w) => sum + w.busy, 0));
      this.set({ state: 'total' }, workers.reduce((sum, w) => sum + w.concurrency, 0));
    },
  });

  return {
    registry,
    record(job) {
      const labels = { task: job.task, queue: job.queue };
      if (job.outcome === 'completed') completed.inc(labels);
      else failed.inc({ ...labels, reason: job.reason ?? 'unknown' });
      if (job.durationMs !== undefined) duration.observe({ ...labels, outcome: job.outcome }, job.durationMs / 1000);
    },
  };
}
