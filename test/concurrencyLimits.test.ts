import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { CancelledError, collectTasks, createClient, InvalidWorkflowError } from '@taskpool/core';
import { afterAll, describe, expect, it } from 'vitest';
import * as gateTasks from './fixtures/gateTasks.ts';
import { fair, keyed, rated } from './fixtures/gateTasks.ts';
import { useProducerStack } from './helpers/producerStack.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { replayRuns } from './helpers/overlap.ts';
import { eventually, spawnService, type Service } from './helpers/spawnService.ts';
import { currentTestPrefix, redisUrl } from './helpers/testRedis.ts';

// Concurrency limits per key and per task (issue #16), enforced across worker processes by the admission gate.
// Each run logs its start and its end to one file (appends are atomic and in time order), and the test replays
// the log to find how many ran at once.
const dir = mkdtempSync(join(tmpdir(), 'tp-gate-'));
const api = useProducerStack({ tasks: collectTasks(gateTasks) });
const services: Service[] = [];
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function startWorkers(count: number, prefix: string, queues: string): Promise<void> {
  const started = Array.from({ length: count }, () =>
    spawnService('taskpool-worker', ['--tasks', 'test/fixtures/gateTasks.ts', '--queues', queues], { REDIS_URL: redisUrl(), TASKPOOL_PREFIX: prefix }),
  );
  services.push(...started);
  await Promise.all(started.map((s) => s.waitFor((line) => line.event === 'worker:ready', 60_000)));
}

describe('concurrency limits across 6 worker processes', () => {
  it('never runs more than 2 jobs of a key nor 5 in all, and reaches both', async () => {
    const prefix = `${currentTestPrefix()}-keyed`;
    const log = join(dir, 'keyed.log');
    await startWorkers(6, prefix, 'gate');
    const client = createClient({ redisUrl: redisUrl(), prefix });
    try {
      const handles = await Promise.all(Array.from({ length: 120 }, (_, n) => client.submit(keyed, { key: `k${n % 3}`, n, log, ms: 30 })));
      const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 60_000 })));
      expect(results.map((r) => r.n)).toEqual(Array.from({ length: 120 }, (_, n) => n));
    } finally {
      await client.close();
    }
    const { lines, maxAll, maxPerKey } = replayRuns(log);
    const starts = lines.filter(([what]) => what === 'S');
    // Each job ran once (at least once: a duplicate would show here, counted, never hidden).
    expect(new Set(starts.map(([, , n]) => n)).size).toBe(120);
    console.info(`keyed limit: ${starts.length - 120} duplicate runs; most at once ${maxAll} in all, per key ${[...maxPerKey.values()].join(',')}`);
    expect(maxAll).toBeLessThanOrEqual(5);
    expect(maxAll).toBe(5);
    for (const [key, max] of maxPerKey) expect(max, key).toBeLessThanOrEqual(2);
    expect([...maxPerKey.values()]).toContain(2);
  });
});

describe('fairness', () => {
  it("one key with 2,000 queued jobs and 99 keys with 10 each, all before any worker: every small key's first job starts in the first two rounds", async () => {
    const prefix = `${currentTestPrefix()}-fair`;
    const log = join(dir, 'fair.log');
    const client = createClient({ redisUrl: redisUrl(), prefix });
    const handles = [];
    try {
      handles.push(...(await Promise.all(Array.from({ length: 2_000 }, (_, n) => client.submit(fair, { key: 'hot', n, log, ms: 1 })))));
      for (let k = 0; k < 99; k++) {
        handles.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => client.submit(fair, { key: `small${String(k).padStart(2, '0')}`, n: 2_000 + k * 10 + i, log, ms: 1 })))));
      }
      await startWorkers(2, prefix, 'gatefair');
      await Promise.all(handles.map((h) => h.result({ timeoutMs: 120_000 })));
    } finally {
      await client.close();
    }
    const { lines, maxAll } = replayRuns(log);
    const starts = lines.filter(([what]) => what === 'S').map(([, key]) => key!);
    expect(starts).toHaveLength(2_990);
    expect(maxAll).toBeLessThanOrEqual(4);
    const rounds = 2 * 100;
    const firsts = Array.from({ length: 99 }, (_, k) => starts.indexOf(`small${String(k).padStart(2, '0')}`));
    console.info(`fairness: the small keys' first jobs started at positions ${Math.min(...firsts)} to ${Math.max(...firsts)} of 2,990`);
    for (let k = 0; k < 99; k++) {
      const key = `small${String(k).padStart(2, '0')}`;
      expect(starts.indexOf(key), key).toBeLessThan(rounds);
    }
  });
});

describe('slots nobody gave back', () => {
  it('the reconcile frees the slots of admitted jobs that vanished, and the pending ones run', async () => {
    const prefix = `${currentTestPrefix()}-reconcile`;
    const log = join(dir, 'reconcile.log');
    const client = createClient({ redisUrl: redisUrl(), prefix });
    const queue = new Queue('gate', { connection: { url: redisUrl() }, prefix });
    try {
      // Limit 2 for the key: two admitted (waiting), two pending (delayed by the gate); no worker yet.
      const handles = await Promise.all(Array.from({ length: 4 }, (_, n) => client.submit(keyed, { key: 'r', n, log, ms: 1 })));
      const states = await Promise.all(handles.map((h) => queue.getJobState(h.id)));
      expect([...states].sort()).toEqual(['delayed', 'delayed', 'waiting', 'waiting']);
      // The admitted ones vanish without a word (removed by hand): no outcome gives their slots back.
      const admitted = handles.filter((_, i) => states[i] === 'waiting');
      await Promise.all(admitted.map((h) => queue.remove(h.id)));
      await startWorkers(1, prefix, 'gate');
      const pending = handles.filter((_, i) => states[i] === 'delayed');
      const results = await Promise.all(pending.map((h) => h.result({ timeoutMs: 30_000 })));
      expect(results.map((r) => r.n).sort()).toEqual(pending.map((h) => handles.indexOf(h)).sort());
      const worker = services.at(-1)!;
      expect(worker.lines.some((line) => line.event === 'gate:reconciled' && line.freed === 2)).toBe(true);
    } finally {
      await queue.close();
      await client.close();
    }
  });
});

describe('over HTTP', () => {
  it('a batch of 4 jobs of one key: 2 admitted to waiting, 2 held by the gate', async () => {
    const res = await api.post('/v1/tasks/gate.keyed/batch', { inputs: Array.from({ length: 4 }, (_, n) => ({ key: 'h', n, log: '/dev/null', ms: 1 })) });
    expect(res.statusCode).toBe(202);
    const queue = new Queue('gate', { connection: { url: redisUrl() }, prefix: api.prefix });
    try {
      const states = await Promise.all(res.json<{ ids: string[] }>().ids.map((id) => queue.getJobState(id)));
      expect([...states].sort()).toEqual(['delayed', 'delayed', 'waiting', 'waiting']);
    } finally {
      await queue.close();
    }
  });
});

describe('a pending job cancelled', () => {
  it('fails as cancelled, gives nothing back twice, and the others run; workflows and map refuse a gated task', async () => {
    const prefix = `${currentTestPrefix()}-cancel`;
    const log = join(dir, 'cancel.log');
    const client = createClient({ redisUrl: redisUrl(), prefix });
    const queue = new Queue('gate', { connection: { url: redisUrl() }, prefix });
    try {
      const handles = await Promise.all(Array.from({ length: 5 }, (_, n) => client.submit(keyed, { key: 'c', n, log, ms: 1 })));
      const states = await Promise.all(handles.map((h) => queue.getJobState(h.id)));
      const pending = handles.filter((_, i) => states[i] === 'delayed');
      expect(pending).toHaveLength(3);
      await pending[0]!.cancel();
      await startWorkers(1, prefix, 'gate');
      await rejectionOf(pending[0]!.result({ timeoutMs: 30_000 }), CancelledError);
      const others = handles.filter((h) => h !== pending[0]);
      expect((await Promise.all(others.map((h) => h.result({ timeoutMs: 30_000 })))).map((r) => r.n).sort()).toEqual(others.map((h) => handles.indexOf(h)).sort());
      expect(readFileSync(log, 'utf8').split('\n').filter((line) => line.startsWith('S'))).toHaveLength(4);
      await rejectionOf(client.run(keyed.with({ key: 'w', n: 0, log, ms: 1 })), InvalidWorkflowError);
      expect(() => client.map(keyed, [{ key: 'm', n: 0, log, ms: 1 }])).toThrow(/concurrency limits/);
    } finally {
      await queue.close();
      await client.close();
    }
  });
});

describe('rate limits per key', () => {
  it('two keys of 130 jobs at 10 a second each: past the first burst, each key starts within 5% of 10 a second, and none fails', async () => {
    const prefix = `${currentTestPrefix()}-rate`;
    const log = join(dir, 'rate.log');
    const client = createClient({ redisUrl: redisUrl(), prefix });
    try {
      const handles = await Promise.all(Array.from({ length: 260 }, (_, n) => client.submit(rated, { key: `r${n % 2}`, n, log, ms: 1 })));
      await startWorkers(2, prefix, 'gaterate');
      await Promise.all(handles.map((h) => h.result({ timeoutMs: 60_000 })));
    } finally {
      await client.close();
    }
    const { lines } = replayRuns(log);
    for (const key of ['r0', 'r1']) {
      const starts = lines.filter(([what, k]) => what === 'S' && k === key).map(([, , , at]) => Number(at)).sort((a, b) => a - b);
      expect(starts).toHaveLength(130);
      // The first burst is 2 × 10: the 10 admitted at submit, while no worker runs, start with the 10 tokens the
      // bucket holds again by then. The other 110 come at the rate.
      const perSecond = (starts.length - 20) / ((starts.at(-1)! - starts[0]!) / 1_000);
      console.info(`rate limit, key ${key}: ${perSecond.toFixed(2)} starts a second past the first 20 (declared 10)`);
      expect(perSecond).toBeGreaterThan(9.5);
      expect(perSecond).toBeLessThan(10.5);
    }
  });
});

describe('a worker killed mid-run', () => {
  it('SIGKILL by pid: its runs go again on the others within the limits, and every job completes', async () => {
    const prefix = `${currentTestPrefix()}-kill`;
    const log = join(dir, 'kill.log');
    await startWorkers(3, prefix, 'gate');
    const workers = services.slice(-3);
    const client = createClient({ redisUrl: redisUrl(), prefix });
    try {
      const handles = await Promise.all(Array.from({ length: 45 }, (_, n) => client.submit(keyed, { key: `k${n % 3}`, n, log, ms: 300 })));
      // A worker with a run under way (started, not ended) is killed.
      const openRuns = (): Map<string, string> => {
        const open = new Map<string, string>();
        if (!existsSync(log)) return open;
        for (const [what, key, n, , pid] of readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' '))) {
          if (what === 'S') open.set(`${key} ${n}`, pid!);
          else open.delete(`${key} ${n}`);
        }
        return open;
      };
      let victim: Service | undefined;
      await eventually(() => {
        const pids = new Set(openRuns().values());
        victim = workers.find((w) => pids.has(String(w.pid)));
        return victim !== undefined;
      }, 'a worker running a job');
      process.kill(victim!.pid, 'SIGKILL');
      await victim!.exited;
      const atLine = readFileSync(log, 'utf8').trim().split('\n').length;
      const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 90_000 })));
      expect(results.map((r) => r.n)).toEqual(Array.from({ length: 45 }, (_, n) => n));
      const { lines, maxAll, maxPerKey } = replayRuns(log, [{ pid: String(victim!.pid), atLine }]);
      const reruns = lines.filter(([what]) => what === 'S').length - 45;
      console.info(`killed worker: ${reruns} runs started again; most at once ${maxAll} in all, per key ${[...maxPerKey.values()].join(',')}`);
      // At least once: the killed worker's runs started again (counted, never hidden).
      expect(reruns).toBeGreaterThanOrEqual(1);
      expect(maxAll).toBeLessThanOrEqual(5);
      for (const [key, max] of maxPerKey) expect(max, key).toBeLessThanOrEqual(2);
    } finally {
      await client.close();
    }
  });
});
