import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TOKEN } from './helpers/testToken.ts';
import { spawnService, spawnWorker, type Service } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

// `taskpool run` and `taskpool tree` against a real stack: a producer process and a worker process.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const prefix = testPrefix(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'tp-cli-wf-'));
const services: Service[] = [];
let baseUrl: string;

beforeAll(async () => {
  const producer = spawnService('taskpool-producer', ['--tasks', 'test/fixtures/workflowTasks.ts', '--port', '0'], {
    REDIS_URL: redisUrl(),
    TASKPOOL_PREFIX: prefix,
    TASKPOOL_API_TOKENS: TEST_TOKEN,
  });
  services.push(producer);
  services.push(await spawnWorker({ redisUrl: redisUrl(), prefix, tasks: 'test/fixtures/workflowTasks.ts', concurrency: 2 }));
  baseUrl = String((await producer.waitFor((line) => line.event === 'producer:ready', 60_000)).url);
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

function taskpool(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${ROOT}node_modules/.bin/taskpool`, ...args],
      { cwd: ROOT, env: { ...process.env, TASKPOOL_URL: baseUrl, TASKPOOL_TOKEN: TEST_TOKEN }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const writeSpec = (name: string, spec: unknown): string => {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(spec));
  return file;
};

describe('taskpool run / tree', () => {
  it('runs a JSON workflow, waits, and prints its tree and result', async () => {
    const file = writeSpec('chord.json', { chain: [{ task: 'wf.square', input: { n: 3 } }, { chord: { header: [{ task: 'wf.inc' }, { task: 'wf.double' }], callback: { task: 'wf.sum' } } }] });
    const run = await taskpool(['run', file, '--wait']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^workflow \S+: completed$/m);
    expect(run.stdout).toMatch(/^ {2}\$spawn {2}completed/m);
    expect(run.stdout).toContain('result: 28');

    const json = await taskpool(['run', file, '--wait', '--json']);
    const body = JSON.parse(json.stdout) as { id: string; state: string; result: number };
    expect(body).toMatchObject({ state: 'completed', result: 28 });
    const tree = await taskpool(['tree', body.id]);
    expect(tree.code).toBe(0);
    expect(tree.stdout).toMatch(/^ {4}wf\.sum {2}completed/m);
    expect(tree.stdout).toMatch(/^ {6}wf\.double {2}completed/m);
  });

  it('exits 1 with the failing step’s error (run --wait and tree alike), and 1 with the API’s refusal', async () => {
    const failing = await taskpool(['run', writeSpec('fail.json', { chain: [{ task: 'wf.square', input: { n: 2 } }, { task: 'wf.boom' }] }), '--wait', '--json']);
    expect(failing.code).toBe(1);
    const failed = JSON.parse(failing.stdout) as { id: string; state: string; error: { message: string } };
    expect(failed).toMatchObject({ state: 'failed', error: { message: 'step failed on 4' } });
    const tree = await taskpool(['tree', failed.id]);
    expect(tree.code).toBe(1);
    expect(tree.stdout).toContain('error: StepError [E_STEP] (error): step failed on 4');
    const refused = await taskpool(['run', writeSpec('bad.json', { chain: [{ task: 'wf.inc' }] })]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error INVALID_WORKFLOW');
    const usage = await taskpool(['run']);
    expect(usage.code).toBe(2);
  });
});
