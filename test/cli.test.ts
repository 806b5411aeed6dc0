import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AUTH, TEST_TOKEN } from './helpers/testToken.ts';
import { eventually } from './helpers/spawnService.ts';
import { useSpawnedStack } from './helpers/spawnStack.ts';
import { expectNothingWritten } from './helpers/testRedis.ts';

// The `taskpool` bin against a real stack: a producer process and a worker process over the run's Redis.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tp-cli-'));
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

const stack = useSpawnedStack({ tasks: 'test/fixtures/producerTasks.ts', concurrency: 2 });

/** A job's state over the API directly: for waiting, where spawning the CLI would only cost time. */
async function stateOf(id: string): Promise<string> {
  const res = await fetch(`${stack.url}/v1/jobs/${id}`, { headers: AUTH });
  return ((await res.json()) as { state: string }).state;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `taskpool <args>` with the producer's URL and token in its environment. */
function taskpool(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${ROOT}node_modules/.bin/taskpool`, ...args],
      { cwd: ROOT, env: { ...process.env, TASKPOOL_URL: stack.url, TASKPOOL_TOKEN: TEST_TOKEN, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('taskpool submit', () => {
  it('--wait prints the result and exits 0; --json prints the job', async () => {
    const human = await taskpool(['submit', 'test.sumSqrt', '--input', '{"n": 100}', '--wait']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/test\.sumSqrt {2}completed/);
    expect(human.stdout).toContain('"sum"');
    const json = await taskpool(['submit', 'test.sumSqrt', '--input', '{"n": 100}', '--wait', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ task: 'test.sumSqrt', state: 'completed', result: { sum: expect.any(Number) } });
  });

  it('--wait exits 1 with the remote error when the job fails', async () => {
    const run = await taskpool(['submit', 'test.failing', '--input', '{"user": "cli"}', '--wait']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('failed');
    expect(run.stdout).toContain('QuotaError [E_QUOTA] (error): quota exceeded for cli');
  });

  it('prints the field-level issues of a bad input, exits 1, and enqueues nothing', async () => {
    await expectNothingWritten(stack.prefix, async () => {
      const run = await taskpool(['submit', 'test.sumSqrt', '--input', '{"n": "many"}']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('error INVALID_INPUT');
      expect(run.stderr).toMatch(/ {2}n: /);
    });
  });
});

describe('taskpool submit and map with job options', () => {
  it('--attempts overrides the task default (3): the failing job is tried twice', async () => {
    const run = await taskpool(['submit', 'test.failing', '--input', '{"user": "twice"}', '--attempts', '2', '--priority', '5', '--wait', '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ task: 'test.failing', state: 'failed', attempts: 2 });
  });

  it('--delay-ms leaves the job delayed; map passes the options to every job', async () => {
    const delayed = await taskpool(['submit', 'test.sumSqrt', '--input', '{"n": 3}', '--delay-ms', '60000', '--json']);
    expect(delayed.code, delayed.stderr).toBe(0);
    const { id } = JSON.parse(delayed.stdout) as { id: string };
    expect(await stateOf(id)).toBe('delayed');
    const file = join(dir, 'options.jsonl');
    writeFileSync(file, '{"user": "a"}\n{"user": "b"}\n');
    const mapped = await taskpool(['map', 'test.failing', '--inputs', file, '--attempts', '1', '--timeout-ms', '5000', '--json']);
    expect(mapped.code).toBe(1);
    const lines = mapped.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; state: string });
    expect(lines.map((line) => line.state)).toEqual(['failed', 'failed']);
    for (const { id: jobId } of lines) {
      const job = (await (await fetch(`${stack.url}/v1/jobs/${jobId}`, { headers: AUTH })).json()) as { attempts: number };
      expect(job.attempts).toBe(1);
    }
  });

  it('prints the refused option by name, exits 1, and enqueues nothing', async () => {
    await expectNothingWritten(stack.prefix, async () => {
      const run = await taskpool(['submit', 'test.sumSqrt', '--input', '{"n": 3}', '--priority', '0']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('error BAD_REQUEST');
      expect(run.stderr).toContain('priority');
    });
  });
});

describe('taskpool map', () => {
  it('submits a JSONL file, shows progress on stderr, and prints one JSON line per input in order', async () => {
    const file = join(dir, 'inputs.jsonl');
    writeFileSync(file, `${Array.from({ length: 25 }, (_, i) => JSON.stringify({ n: 1000 + i })).join('\n')}\n\n`);
    const run = await taskpool(['map', 'test.sumSqrt', '--inputs', file, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('test.sumSqrt [##############################] 25/25');
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { index: number; line: number; state: string });
    expect(lines.map((l) => l.index)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(lines.map((l) => l.line)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(lines.every((l) => l.state === 'completed')).toBe(true);
  });

  it('names a missing --inputs file in one line, without a stack, and exits 2', async () => {
    const run = await taskpool(['map', 'test.sumSqrt', '--inputs', join(dir, 'missing.jsonl')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--inputs ${join(dir, 'missing.jsonl')}: no such file`);
    expect(run.stderr).not.toMatch(/ENOENT|\n\s+at /);
  });

  it('names an invalid input by its line in the file (1-based, blank lines counted), and enqueues nothing', async () => {
    const file = join(dir, 'invalid.jsonl');
    writeFileSync(file, '{"n": 1}\n\n{"n": 2}\n{"n": "many"}\n');
    await expectNothingWritten(stack.prefix, async () => {
      const run = await taskpool(['map', 'test.sumSqrt', '--inputs', file]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`Invalid input at ${file} line 4.n:`);
      expect(run.stderr).toContain(`  ${file} line 4.n: `);
    });
  });

  it('names the line of a file that is not JSON lines, and exits 2', async () => {
    const file = join(dir, 'broken.jsonl');
    writeFileSync(file, '{"n": 1}\n{"n": \n');
    const run = await taskpool(['map', 'test.sumSqrt', '--inputs', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('broken.jsonl line 2 is not JSON');
  });
});

describe('taskpool status, retry, cancel', () => {
  it('shows a failed job, retries it after the fix, and retries every failed job of a task', async () => {
    const marker = join(dir, 'marker');
    const ids = await Promise.all(['x', 'y'].map(async (label) => (await taskpool(['submit', 'test.flaky', '--input', JSON.stringify({ marker, label }), '--wait', '--json'])).stdout));
    const [first, second] = ids.map((text) => JSON.parse(text) as { id: string; state: string });
    expect(first!.state).toBe('failed');
    const status = await taskpool(['status', first!.id]);
    expect(status.stdout).toContain('marker file missing for x');
    // A failed job exits 1 for status as for submit --wait.
    expect(status.code).toBe(1);

    const notFailed = await taskpool(['retry', (JSON.parse((await taskpool(['submit', 'test.sumSqrt', '--input', '{"n":1}', '--wait', '--json'])).stdout) as { id: string }).id]);
    expect(notFailed.code).toBe(1);
    expect(notFailed.stderr).toContain('error CONFLICT');

    writeFileSync(marker, '');
    const one = await taskpool(['retry', first!.id]);
    expect(one.stdout).toContain(`Retried ${first!.id}`);
    const all = await taskpool(['retry', '--failed', 'test.flaky', '--json']);
    expect(JSON.parse(all.stdout)).toEqual({ task: 'test.flaky', retried: 1 });
    await eventually(async () => (await stateOf(second!.id)) === 'completed', 'the retried job to complete', 30_000);
  });

  it('cancels a running job', async () => {
    const { stdout } = await taskpool(['submit', 'test.sleep', '--input', '{"ms": 60000}', '--json']);
    const { id } = JSON.parse(stdout) as { id: string };
    await eventually(async () => (await stateOf(id)) === 'active', 'the job to start', 30_000);
    const run = await taskpool(['cancel', id]);
    expect(run.stdout).toContain(`Cancel sent to the worker running ${id}`);
  });

  it('exits 1 with JOB_NOT_FOUND for an unknown id', async () => {
    const run = await taskpool(['status', 'no-such-job']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error JOB_NOT_FOUND');
  });
});

describe('taskpool workers, stats', () => {
  it('lists the live worker', async () => {
    const human = await taskpool(['workers']);
    expect(human.stdout).toMatch(/^HOST +PID +HEALTH +BUSY/);
    expect(human.stdout).toMatch(/ ok +\d+\/2 /);
    expect(human.stdout).toContain(String(stack.workers[0]!.pid));
    const json = await taskpool(['workers', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ pid: stack.workers[0]!.pid, concurrency: 2 })]);
  });

  it('prints per-task counts and the last hour', async () => {
    const run = await taskpool(['stats']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^TASK +QUEUE +WAITING/);
    expect(run.stdout).toMatch(/test\.sumSqrt +default/);
    expect(run.stdout).toContain('1 live worker(s)');
    expect(run.stdout).toMatch(/^objects: \d+ in Redis \(\d+ bytes\); \d+ owned by jobs$/m);
  });
});

describe('taskpool configuration', () => {
  it('exits 1 with UNAUTHORIZED for a wrong token, and 2 without one or for an unknown command', async () => {
    const wrong = await taskpool(['stats'], { TASKPOOL_TOKEN: 'wrong-token-wrong-token' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('error UNAUTHORIZED');
    const none = await taskpool(['stats'], { TASKPOOL_TOKEN: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('No API token');
    const unknown = await taskpool(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "frobnicate"');
  });
});
