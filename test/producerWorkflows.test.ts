import { collectTasks } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import type { TaskpoolWorker } from '@taskpool/core/worker';
import { workflowResponseSchema } from '@taskpool/producer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as workflowTasks from './fixtures/workflowTasks.ts';
import { useProducerStack } from './helpers/producerStack.ts';
import { countKeys, redisUrl } from './helpers/testRedis.ts';

const stack = useProducerStack({ tasks: collectTasks(workflowTasks) });
const prefix = stack.prefix;
let worker: TaskpoolWorker | undefined;

afterAll(async () => {
  await worker?.close();
});

async function expectNothingSent(body: unknown, status: number, code: string): Promise<void> {
  const before = await countKeys(redisUrl(), prefix);
  const res = await stack.post('/v1/workflows', body);
  expect(res.statusCode).toBe(status);
  expect(res.json<{ error: { code: string } }>().error.code).toBe(code);
  expect(await countKeys(redisUrl(), prefix)).toBe(before);
}

// No worker yet: nothing under the prefix changes unless a POST sends a workflow.
describe('POST /v1/workflows: bad input, nothing sent', () => {
  it('answers 400 BAD_REQUEST to a malformed spec', async () => {
    await expectNothingSent({ chain: [] }, 400, 'BAD_REQUEST');
    await expectNothingSent({ task: 'wf.square', input: { n: 1 }, extra: 1 }, 400, 'BAD_REQUEST');
    await expectNothingSent({ group: [{ task: 'wf.square', input: { n: 1 } }], onChildFailure: 'sometimes' }, 400, 'BAD_REQUEST');
  });

  it('answers 404 UNKNOWN_TASK, 400 INVALID_INPUT and 400 INVALID_WORKFLOW', async () => {
    await expectNothingSent({ chain: [{ task: 'wf.square', input: { n: 2 } }, { task: 'wf.nope' }] }, 404, 'UNKNOWN_TASK');
    await expectNothingSent({ chain: [{ task: 'wf.square', input: { n: 'two' } }, { task: 'wf.inc' }] }, 400, 'INVALID_INPUT');
    await expectNothingSent({ chain: [{ task: 'wf.inc' }, { task: 'wf.double' }] }, 400, 'INVALID_WORKFLOW');
  });
});

describe('workflows over HTTP', () => {
  beforeAll(async () => {
    worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/workflowTasks.ts', concurrency: 2 });
  });

  it('runs a chord given as JSON and reports its result and tree', async () => {
    const spec = {
      chain: [
        { task: 'wf.square', input: { n: 2 } },
        { chord: { header: [{ task: 'wf.inc' }, { task: 'wf.double' }, { chain: [{ task: 'wf.inc' }, { task: 'wf.inc' }] }], callback: { task: 'wf.sum' } } },
      ],
      onSuccess: ['wf.onSucceeded'],
    };
    const res = await stack.post('/v1/workflows', spec);
    expect(res.statusCode).toBe(202);
    const { id } = res.json<{ id: string }>();
    expect(res.headers.location).toBe(`/v1/workflows/${id}`);
    const done = await stack.request({ method: 'GET', url: `/v1/workflows/${id}?waitMs=20000` });
    expect(done.statusCode).toBe(200);
    const body = done.json<{ state: string; result: number; root: { task: string; state: string; children: unknown[] } }>();
    workflowResponseSchema.strict().parse(body);
    expect(body).toMatchObject({ id, state: 'completed', result: 5 + 8 + 6 });
    expect(body.root).toMatchObject({ task: '$spawn', state: 'completed' });
    expect(body.root.children).toHaveLength(2);
  });

  it('reports a failed workflow with the failing step’s error, without stacks', async () => {
    const res = await stack.post('/v1/workflows', { group: [{ task: 'wf.maybeFail', input: { n: 4, fail: true } }, { task: 'wf.square', input: { n: 1 } }] });
    const { id } = res.json<{ id: string }>();
    const body = (await stack.request({ method: 'GET', url: `/v1/workflows/${id}?waitMs=20000` })).json<{ state: string; error: Record<string, unknown> }>();
    expect(body.state).toBe('failed');
    expect(body.error).toMatchObject({ name: 'StepError', code: 'E_STEP', message: 'step failed on 4' });
    expect(body.error).not.toHaveProperty('stack');
  });

  it('cancels a workflow, and answers 404 for an unknown one', async () => {
    const res = await stack.post('/v1/workflows', { chord: { header: [{ task: 'wf.sleepy', input: { n: 1, ms: 60_000 } }, { task: 'wf.sleepy', input: { n: 2, ms: 60_000 } }, { task: 'wf.sleepy', input: { n: 3, ms: 60_000 } }], callback: { task: 'wf.sum' } } });
    const { id } = res.json<{ id: string }>();
    const cancel = await stack.post(`/v1/workflows/${id}/cancel`);
    expect(cancel.statusCode).toBe(202);
    // A member a worker fetched after the cancel's mark fails at once (counted by neither).
    const counts = cancel.json<{ removed: number; signalled: number }>();
    expect(counts.removed + counts.signalled).toBeGreaterThan(0);
    expect(counts.removed + counts.signalled).toBeLessThanOrEqual(3);
    const body = (await stack.request({ method: 'GET', url: `/v1/workflows/${id}?waitMs=20000` })).json<{ state: string; error: { code: string } }>();
    expect(body).toMatchObject({ state: 'failed', error: { code: 'CANCELLED' } });
    const missing = await stack.request({ method: 'GET', url: '/v1/workflows/no-such-workflow' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<{ error: { code: string } }>().error.code).toBe('JOB_NOT_FOUND');
  });
});
