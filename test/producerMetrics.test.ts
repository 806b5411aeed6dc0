import { createLogger } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import { startJobEventsRecorder, type JobEventsRecorder, type OverviewStats } from '@taskpool/producer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useProducerStack } from './helpers/producerStack.ts';
import { parsePrometheusText, type Exposition } from './helpers/prometheusText.ts';
import { eventually } from './helpers/spawnService.ts';
import { redisUrl } from './helpers/testRedis.ts';
import { useFixture } from './helpers/useFixture.ts';

const logger = createLogger({ level: 'silent' });
const stack = useProducerStack();
const { prefix } = stack;
const recorders: JobEventsRecorder[] = [];

beforeAll(async () => {
  // Wired as main.ts does: the recorder feeds the registry /metrics serves (the per-minute statistics in Redis
  // are the worker's). A second recorder, as a second producer would run, feeds a registry not scraped here.
  const recorder = (feedsMetrics: boolean) =>
    startJobEventsRecorder({
      redisUrl: redisUrl(),
      prefix,
      queues: ['default'],
      logger,
      onFinished: (job) => {
        if (feedsMetrics) stack.metrics.record(job);
      },
    });
  recorders.push(recorder(true), recorder(false));
  await Promise.all(recorders.map((r) => r.ready));
});

afterAll(async () => {
  await Promise.all(recorders.map((r) => r.close()));
});

// Started once the recorders listen.
useFixture(() => startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/producerTasks.ts', concurrency: 2 }));

async function scrape(): Promise<Exposition> {
  const res = await stack.request({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toContain('text/plain');
  return parsePrometheusText(res.body);
}

describe('GET /metrics', () => {
  it('parses as Prometheus text, with the task, queue and worker families typed', async () => {
    const metrics = await scrape();
    expect(metrics.types.get('taskpool_tasks_completed_total')).toBe('counter');
    expect(metrics.types.get('taskpool_tasks_failed_total')).toBe('counter');
    expect(metrics.types.get('taskpool_task_duration_seconds')).toBe('histogram');
    expect(metrics.types.get('taskpool_queue_jobs')).toBe('gauge');
    expect(metrics.types.get('taskpool_workers')).toBe('gauge');
    expect(metrics.value('taskpool_producer_process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('moves when tasks run: completions, failures by reason, durations, queue gauges, live workers', async () => {
    const before = await scrape();
    const completedBefore = before.value('taskpool_tasks_completed_total', { task: 'test.sumSqrt' }) ?? 0;
    const ids = await Promise.all([1, 2, 3].map(async (i) => (await stack.post('/v1/tasks/test.sumSqrt', { n: 1000 * i })).json<{ id: string }>().id));
    await stack.post('/v1/tasks/test.flaky', { marker: '/nonexistent/marker', label: 'metrics' });

    let after: Exposition | undefined;
    await eventually(
      async () => {
        after = await scrape();
        const done = after.value('taskpool_tasks_completed_total', { task: 'test.sumSqrt', queue: 'default' }) ?? 0;
        const failed = after.value('taskpool_tasks_failed_total', { task: 'test.flaky', reason: 'error' }) ?? 0;
        return done - completedBefore === 3 && failed === 1;
      },
      `3 completions and 1 failure in /metrics for jobs ${ids.join(', ')}`,
      30_000,
    );
    expect(after!.value('taskpool_task_duration_seconds_count', { task: 'test.sumSqrt', outcome: 'completed' })).toBe(3 + completedBefore);
    expect(after!.value('taskpool_task_duration_seconds_bucket', { task: 'test.sumSqrt', outcome: 'completed', le: '+Inf' })).toBe(3 + completedBefore);
    expect(after!.value('taskpool_queue_jobs', { queue: 'default', state: 'completed' })).toBeGreaterThanOrEqual(3);
    expect(after!.value('taskpool_queue_jobs', { queue: 'default', state: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(after!.value('taskpool_workers')).toBe(1);
    expect(after!.value('taskpool_sandboxes', { state: 'total' })).toBe(2);
  });
});

describe('GET /v1/stats', () => {
  it('shows the last hour per task once per job, and failed jobs grouped by reason', async () => {
    let stats: OverviewStats | undefined;
    await eventually(
      async () => {
        stats = (await stack.request({ method: 'GET', url: '/v1/stats' })).json<OverviewStats>();
        return (stats.tasks.find((t) => t.name === 'test.sumSqrt')?.lastHour.completed ?? 0) >= 3;
      },
      'the minute statistics',
    );
    const sumSqrt = stats!.tasks.find((t) => t.name === 'test.sumSqrt')!;
    expect(sumSqrt.lastHour.completed).toBe(3);
    expect(sumSqrt.lastHour.series).toHaveLength(60);
    expect(sumSqrt.lastHour.p50Ms).toEqual(expect.any(Number));
    const flaky = stats!.tasks.find((t) => t.name === 'test.flaky')!;
    expect(flaky.counts.failed).toBe(1);
    expect(flaky.failures).toEqual([{ reason: 'error', count: 1, message: expect.stringContaining('marker file missing for metrics') }]);
    expect(flaky.lastHour.failuresByReason).toEqual({ error: 1 });
    expect(stats!.workers).toHaveLength(1);
    expect(stats!.workers[0]).toMatchObject({ concurrency: 2, pid: process.pid });
  });
});
