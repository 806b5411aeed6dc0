import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobSummary } from '@taskpool/core';
import type { OverviewStats } from '@taskpool/producer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type LocalRedisCluster } from './helpers/redisCluster.ts';
import { eventually } from './helpers/spawnService.ts';
import { spawnStack, type SpawnedStack } from './helpers/spawnStack.ts';
import { AUTH, TEST_TOKEN } from './helpers/testToken.ts';

// The producer (HTTP API, dashboard, stats, search) and the CLI on a real three-node Redis Cluster of this
// file's own, with a producer and a worker process as `npm start` runs them.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const prefix = '{tp-t-cluster-producer}';
let cluster: LocalRedisCluster;
let stack: SpawnedStack;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tp-cluster-producer-'));
  cluster = await startRedisCluster(3);
  stack = await spawnStack({ redisUrl: cluster.url, prefix, tasks: 'test/fixtures/producerTasks.ts', concurrency: 2 });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T; text: string }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { ...AUTH, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined) as T, text };
}

const submit = async (task: string, input: unknown): Promise<string> => {
  const res = await api<{ id: string }>('POST', `/v1/tasks/${task}`, input);
  expect(res.status, res.text).toBe(202);
  return res.json.id;
};

const stats = async (): Promise<OverviewStats> => (await api<OverviewStats>('GET', '/v1/stats')).json;
const taskOf = (overview: OverviewStats, name: string) => overview.tasks.find((t) => t.name === name)!;
const stateOf = async (id: string): Promise<string> => (await api<{ state: string }>('GET', `/v1/jobs/${id}`)).json.state;

function taskpool(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${ROOT}node_modules/.bin/taskpool`, ...args],
      { cwd: ROOT, env: { ...process.env, TASKPOOL_URL: stack.url, TASKPOOL_TOKEN: TEST_TOKEN }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

// The tests run in order and build on each other's jobs.
let flakyId: string;
let sleepId: string;

describe('the producer on a Redis Cluster', () => {
  it('GET /v1/stats: per-task counts, failures by reason and the last hour, with real values', async () => {
    await Promise.all([1, 2, 3].map((i) => submit('test.sumSqrt', { n: 100 * i })));
    flakyId = await submit('test.flaky', { marker: join(dir, 'marker'), label: 'cluster' });
    sleepId = await submit('test.sleep', { ms: 60_000 });
    await eventually(async () => {
      const overview = await stats();
      return taskOf(overview, 'test.sumSqrt').lastHour.completed === 3 && taskOf(overview, 'test.flaky').counts.failed === 1 && taskOf(overview, 'test.sleep').counts.active === 1;
    }, 'three completions, one failure and one running sleep in /v1/stats');
    const overview = await stats();
    expect(taskOf(overview, 'test.sumSqrt')).toMatchObject({ queue: 'default', counts: { waiting: 0, active: 0, delayed: 0, failed: 0 }, lastHour: { completed: 3, failed: 0 } });
    expect(taskOf(overview, 'test.sumSqrt').lastHour.p50Ms).toEqual(expect.any(Number));
    expect(taskOf(overview, 'test.flaky')).toMatchObject({
      counts: { failed: 1 },
      failures: [{ reason: 'error', count: 1, message: expect.stringContaining('marker file missing for cluster') }],
      lastHour: { failed: 1, failuresByReason: { error: 1 } },
    });
    expect(taskOf(overview, 'test.sleep').counts).toMatchObject({ active: 1, waiting: 0 });
    expect(overview.queues).toEqual([expect.objectContaining({ queue: 'default', counts: expect.objectContaining({ completed: 3, failed: 1, active: 1 }) })]);
    expect(overview.workers).toHaveLength(1);
  });

  it('the dashboard overview fragment shows the same numbers', async () => {
    const res = await api('GET', '/dashboard/fragments/overview');
    expect(res.status).toBe(200);
    expect(res.text).toContain('data-live-workers="1"');
    const row = (task: string): string => res.text.match(new RegExp(`<tr data-task="${task.replace('.', '\\.')}">([\\s\\S]*?)</tr>`))?.[1] ?? '';
    const cells = (task: string): string[] => [...row(task).matchAll(/<td class="num[^"]*">([^<]*)<\/td>/g)].map((m) => m[1]!.trim());
    // Waiting, active, delayed, failed, done 1 h, failed 1 h, ...
    expect(cells('test.flaky').slice(0, 6)).toEqual(['0', '0', '0', '1', '0', '1']);
    expect(cells('test.sumSqrt').slice(0, 6)).toEqual(['0', '0', '0', '0', '3', '0']);
    expect(cells('test.sleep').slice(0, 2)).toEqual(['0', '1']);
    expect(res.text).toContain('marker file missing for cluster');
  });

  it('GET /v1/jobs searches by task, state and text', async () => {
    const byTask = await api<{ jobs: JobSummary[] }>('GET', '/v1/jobs?task=test.sumSqrt');
    expect(byTask.json.jobs).toHaveLength(3);
    expect(byTask.json.jobs.every((j) => j.task === 'test.sumSqrt' && j.state === 'completed')).toBe(true);
    const failed = await api<{ jobs: JobSummary[] }>('GET', '/v1/jobs?state=failed');
    expect(failed.json.jobs.map((j) => j.id)).toEqual([flakyId]);
    const text = await api<{ jobs: JobSummary[] }>('GET', '/v1/jobs?text=MARKER%20FILE%20MISSING');
    expect(text.json.jobs).toEqual([expect.objectContaining({ id: flakyId, task: 'test.flaky', state: 'failed', error: expect.objectContaining({ reason: 'error' }) })]);
    const none = await api<{ jobs: JobSummary[] }>('GET', '/v1/jobs?task=test.sumSqrt&state=failed');
    expect(none.json.jobs).toEqual([]);
  });

  it('retries a failed job and cancels a running one over HTTP', async () => {
    await writeFile(join(dir, 'marker'), '');
    const retried = await api<{ state: string }>('POST', `/v1/jobs/${flakyId}/retry`);
    expect(retried.status, retried.text).toBe(200);
    await eventually(async () => (await stateOf(flakyId)) === 'completed', 'the retried job completed');

    const cancelled = await api<{ outcome: string }>('POST', `/v1/jobs/${sleepId}/cancel`);
    expect(cancelled.status, cancelled.text).toBe(202);
    expect(cancelled.json.outcome).toBe('signalled');
    await eventually(async () => (await stateOf(sleepId)) === 'failed', 'the cancelled job failed');
    const job = await api<{ error: { reason: string } }>('GET', `/v1/jobs/${sleepId}`);
    expect(job.json.error.reason).toBe('cancelled');

    await eventually(async () => taskOf(await stats(), 'test.sleep').counts.active === 0, 'the sleep no longer active');
    const overview = await stats();
    expect(taskOf(overview, 'test.flaky')).toMatchObject({ counts: { failed: 0 }, failures: [], lastHour: { completed: 1, failed: 1 } });
    expect(taskOf(overview, 'test.sleep')).toMatchObject({ counts: { active: 0, failed: 1 }, failures: [{ reason: 'cancelled', count: 1 }] });
  });

  it('taskpool stats prints the counts', async () => {
    const run = await taskpool(['stats']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^TASK +QUEUE +WAITING +ACTIVE +DELAYED +FAILED +DONE\/1H +FAILED\/1H/);
    expect(run.stdout).toMatch(/test\.sumSqrt +default +0 +0 +0 +0 +3 +0 /);
    expect(run.stdout).toMatch(/test\.flaky +default +0 +0 +0 +0 +1 +1 /);
    expect(run.stdout).toMatch(/test\.sleep +default +0 +0 +0 +1 +0 +1 /);
    expect(run.stdout).toContain('1 live worker(s)');
    expect(run.stdout).toMatch(/failed test\.sleep \(cancelled\) x1/);
  });
});
