import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chain, chord, group, InvalidWorkflowError, RemoteTaskError, ValidationError, type StepStatus } from '@taskpool/core';
import { boom, double, inc, maybeFail, onFailed, onSucceeded, square, StepError, sum, summarize, toText } from './fixtures/workflowTasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { eventually } from './helpers/spawnService.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const dir = mkdtempSync(join(tmpdir(), 'tp-workflows-'));
const log = join(dir, 'exec.log');
// Read by the fixture tasks in the sandboxes, which inherit the worker's environment.
process.env['TP_TEST_EXEC_LOG'] = log;
const stack = useTestStack({ tasksModule: 'test/fixtures/workflowTasks.ts', concurrency: 2, client: { errors: [StepError] } });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const runs = (line: string): number => readFileSync(log, 'utf8').split('\n').filter((l) => l === line).length;
const flatten = (step: StepStatus): StepStatus[] => [step, ...step.children.flatMap(flatten)];

describe('chain', () => {
  it('runs 10 steps, each given the previous output', async () => {
    const handle = await stack.client.run(chain(square.with({ n: 3 }), inc, inc, double, inc, inc, double, inc, inc, toText));
    expect(await handle.result({ timeoutMs: 20_000 })).toBe(`#${((9 + 2) * 2 + 2) * 2 + 2}`);
    const status = await handle.status();
    expect(status.state).toBe('completed');
    expect(flatten(status.root).map((s) => s.task)).toEqual(['wf.toText', 'wf.inc', 'wf.inc', 'wf.double', 'wf.inc', 'wf.inc', 'wf.double', 'wf.inc', 'wf.inc', 'wf.square']);
    expect(flatten(status.root).every((s) => s.state === 'completed')).toBe(true);
  });

  it('fails with the failing step’s error, and later steps never run', async () => {
    const handle = await stack.client.run(chain(square.with({ n: 7 }), inc, boom, double, inc));
    const error = await rejectionOf(handle.result({ timeoutMs: 20_000 }), StepError);
    expect(error).toMatchObject({ message: 'step failed on 50', code: 'E_STEP', n: 50 });
    expect(runs('wf.boom 50')).toBe(1);
    expect(runs('wf.double 50')).toBe(0);
    const steps = flatten((await handle.status()).root);
    expect(steps.map((s) => [s.task, s.state])).toEqual([
      ['wf.inc', 'failed'],
      ['wf.double', 'failed'],
      ['wf.boom', 'failed'],
      ['wf.inc', 'completed'],
      ['wf.square', 'completed'],
    ]);
    expect(steps[0]!.attempts).toBeLessThanOrEqual(1);
  });

  it('refuses, before sending anything, a step with no input or an invalid bound input', async () => {
    // @ts-expect-error: the chain's first step takes an input, so it cannot run as it is.
    const unbound: Parameters<typeof stack.client.run>[0] = chain(inc, double);
    await expect(stack.client.run(unbound)).rejects.toBeInstanceOf(InvalidWorkflowError);
    await expect(stack.client.run(chain(square.with({ n: 'x' as unknown as number }), inc))).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('group and chord', () => {
  it('a group gives its members’ outputs in order', async () => {
    const handle = await stack.client.run(group([square.with({ n: 2 }), square.with({ n: 3 }), chain(square.with({ n: 4 }), toText)]));
    expect(await handle.result({ timeoutMs: 20_000 })).toEqual([4, 9, '#16']);
  });

  it('a chord sums a group of 1,000', async () => {
    const members = Array.from({ length: 1_000 }, (_, n) => square.with({ n }));
    const handle = await stack.client.run(chord(group(members), sum));
    const expected = Array.from({ length: 1_000 }, (_, n) => n * n).reduce((a, b) => a + b, 0);
    expect(await handle.result({ timeoutMs: 60_000 })).toBe(expected);
  });

  it('nests a chain in a group in a chain; the group takes the previous output', async () => {
    const handle = await stack.client.run(chain(square.with({ n: 2 }), group([chain(inc, double), inc, double]), sum, inc));
    // 4 -> [ (4+1)*2, 4+1, 4*2 ] -> 23 -> 24
    expect(await handle.result({ timeoutMs: 20_000 })).toBe(24);
  });

  it('a chord whose header holds chains', async () => {
    const handle = await stack.client.run(chord(group([chain(square.with({ n: 1 }), inc), chain(square.with({ n: 2 }), double, inc)]), sum));
    expect(await handle.result({ timeoutMs: 20_000 })).toBe(2 + 9);
  });
});

describe('failure policies on a group of 100 with 3 failing members', () => {
  const failing = new Set([10, 50, 90]);
  const members = (ms?: number) => Array.from({ length: 100 }, (_, n) => maybeFail.with({ n, fail: failing.has(n), ...(ms && { ms }) }));
  const okSum = Array.from({ length: 100 }, (_, n) => (failing.has(n) ? 0 : n * n)).reduce((a, b) => a + b, 0);

  it("'fail' (the default): the workflow fails with a member's error", async () => {
    // Members of 5 ms: no-op members would all have run before the failure could stop any (a worker holds up to
    // 2 × 16 × 2 of them while tasks take microseconds, see prefetchGovernor.ts); at 5 ms it holds one per
    // sandbox and one more, and the 100 take ~250 ms.
    const handle = await stack.client.run(chord(group(members(5)), sum));
    const error = await rejectionOf(handle.result({ timeoutMs: 30_000 }), StepError);
    expect(failing.has(error.n)).toBe(true);
    // Promptly: the members not started were removed (in the tree as `unknown`), none is left waiting or running.
    await eventually(async () => (await handle.status()).root.children.every((s) => ['completed', 'failed', 'unknown'].includes(s.state)), 'every member settled or removed');
    const children = (await handle.status()).root.children;
    expect(children.map((s) => s.id)).toEqual(Array.from({ length: 100 }, (_, n) => `${handle.id}.${n}`));
    // Members still waiting are removed (`unknown` in the tree); those the worker already held and had not started
    // fail as cancelled. How many ran first depends on the machine's load: at least a third are stopped.
    const stopped = children.filter((s) => (s.state === 'unknown' && s.task === '') || (s.state === 'failed' && s.error?.reason === 'cancelled'));
    expect(stopped.length).toBeGreaterThan(33);
  });

  it("'collect': the callback gets every outcome in order", async () => {
    const handle = await stack.client.run(chord(group(members(), { onChildFailure: 'collect' }), summarize));
    expect(await handle.result({ timeoutMs: 30_000 })).toEqual({ ok: 97, failed: 3, sum: okSum, errors: ['StepError', 'StepError', 'StepError'] });
  });

  it("'ignore': the callback gets the outputs of the members that succeeded", async () => {
    const handle = await stack.client.run(chord(group(members(), { onChildFailure: 'ignore' }), sum));
    expect(await handle.result({ timeoutMs: 30_000 })).toBe(okSum);
    const outputs = await (await stack.client.run(group(members(), { onChildFailure: 'ignore' }))).result({ timeoutMs: 30_000 });
    expect(outputs).toHaveLength(97);
  });
});

describe('callbacks', () => {
  it('onSuccess runs a task with the output; onFailure with what failed', async () => {
    const ok = await stack.client.run(chain(square.with({ n: 5 }), inc).onSuccess(onSucceeded));
    expect(await ok.result({ timeoutMs: 20_000 })).toBe(26);
    expect(await stack.client.handle(onSucceeded, `${ok.id}.ok0`).result({ timeoutMs: 20_000 })).toBe('done 26');

    const bad = await stack.client.run(chain(square.with({ n: 5 }), boom).onFailure(onFailed));
    await expect(bad.result({ timeoutMs: 20_000 })).rejects.toBeInstanceOf(StepError);
    expect(await stack.client.handle(onFailed, `${bad.id}.err0`).result({ timeoutMs: 20_000 })).toEqual({ jobId: bad.id, task: 'wf.boom', error: 'StepError' });
  });

  it('onDone runs in this process once', async () => {
    const handle = await stack.client.run(square.with({ n: 9 }));
    const seen = await new Promise((resolve) => handle.onDone(resolve));
    expect(seen).toEqual({ ok: true, value: 81 });
  });
});

describe('errors', () => {
  it('an unregistered remote error arrives as a RemoteTaskError with its name and code', async () => {
    const other = stack.createClient();
    const handle = await other.run(chain(square.with({ n: 2 }), boom));
    const error = await rejectionOf(handle.result({ timeoutMs: 20_000 }), RemoteTaskError);
    expect(error).toMatchObject({ remoteName: 'StepError', remoteCode: 'E_STEP' });
  });
});
