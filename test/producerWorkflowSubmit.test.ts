import { chain, collectTasks, idempotentWorkflowId, IdempotencyConflictError, StepTypeMismatchError } from '@taskpool/core';
import { describe, expect, it } from 'vitest';
import * as workflowTasks from './fixtures/workflowTasks.ts';
import { useProducerStack } from './helpers/producerStack.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { countKeys, expectNothingWritten, redisUrl } from './helpers/testRedis.ts';

// No worker: the keys under the prefix change only when a request sends a workflow.
const stack = useProducerStack({ tasks: collectTasks(workflowTasks) });
const { prefix } = stack;

/** A workflow of four jobs: a chain into a chord of two members. */
const spec = (n: number) => ({ chain: [{ task: 'wf.square', input: { n } }, { chord: { header: [{ task: 'wf.inc' }, { task: 'wf.double' }], callback: { task: 'wf.sum' } } }] });

/** The keys one more `spec(n)` workflow adds (sent without a key, after one that made the queues' and tasks' own keys). */
async function keysOfOneWorkflow(): Promise<number> {
  expect((await stack.post('/v1/workflows', spec(1))).statusCode).toBe(202);
  const before = await countKeys(redisUrl(), prefix);
  expect((await stack.post('/v1/workflows', spec(1))).statusCode).toBe(202);
  return (await countKeys(redisUrl(), prefix)) - before;
}

type Submitted = { id: string; replayed?: boolean };

describe('POST /v1/workflows with Idempotency-Key', () => {
  it('answers a repeat with the first workflow (replayed), and adds nothing', async () => {
    const key = { 'idempotency-key': 'wf-order-1' };
    const first = await stack.post('/v1/workflows', spec(2), key);
    expect(first.statusCode).toBe(202);
    const { id } = first.json<Submitted>();
    expect(first.json<Submitted>()).toEqual({ id, replayed: false });
    expect(id).toBe(idempotentWorkflowId('wf-order-1'));
    expect(first.headers.location).toBe(`/v1/workflows/${id}`);
    await expectNothingWritten(prefix, async () => {
      // The same workflow, its keys in another order.
      const again = await stack.post('/v1/workflows', { chain: [{ input: { n: 2 }, task: 'wf.square' }, spec(2).chain[1]] }, key);
      expect(again.statusCode).toBe(202);
      expect(again.json<Submitted>()).toEqual({ id, replayed: true });
    });
    const status = await stack.request({ method: 'GET', url: `/v1/workflows/${id}` });
    expect(status.json<{ root: { task: string } }>().root.task).toBe('$spawn');
  });

  it('makes one workflow of two concurrent requests with one key', async () => {
    const perWorkflow = await keysOfOneWorkflow();
    const before = await countKeys(redisUrl(), prefix);
    const key = { 'idempotency-key': 'wf-concurrent' };
    const answers = await Promise.all([stack.post('/v1/workflows', spec(3), key), stack.post('/v1/workflows', spec(3), key)]);
    expect(answers.map((res) => res.statusCode)).toEqual([202, 202]);
    const [a, b] = answers.map((res) => res.json<Submitted>());
    expect(a!.id).toBe(b!.id);
    expect([a!.replayed, b!.replayed]).toContain(false);
    expect((await countKeys(redisUrl(), prefix)) - before).toBe(perWorkflow);
  });

  it('answers the key reused with another workflow with 409 CONFLICT, and adds nothing', async () => {
    const key = { 'idempotency-key': 'wf-order-2' };
    const first = (await stack.post('/v1/workflows', spec(4), key)).json<Submitted>();
    await expectNothingWritten(prefix, async () => {
      // Another input, another option, another shape (rooted in the same queue).
      for (const other of [spec(5), { chain: [{ task: 'wf.square', input: { n: 4 } }, { task: 'wf.inc', options: { attempts: 2 } }] }, { task: 'wf.square', input: { n: 4 } }]) {
        const res = await stack.post('/v1/workflows', other, key);
        expect(res.statusCode).toBe(409);
        expect(res.json()).toMatchObject({ error: { code: 'CONFLICT', jobId: first.id } });
      }
    });
  });

  it('answers a malformed key with 400 BAD_REQUEST, and adds nothing', async () => {
    await expectNothingWritten(prefix, async () => {
      const res = await stack.post('/v1/workflows', spec(6), { 'idempotency-key': 'k'.repeat(256) });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    });
  });

  it('client.run takes the same key: the same id as over HTTP', async () => {
    const { square, toText } = workflowTasks;
    const workflow = chain(square.with({ n: 7 }), toText);
    const first = await stack.client.run(workflow, { idempotencyKey: 'wf-client-1' });
    expect([first.id, first.replayed]).toEqual([idempotentWorkflowId('wf-client-1'), false]);
    const again = await stack.client.run(workflow, { idempotencyKey: 'wf-client-1' });
    expect([again.id, again.replayed]).toEqual([first.id, true]);
    await rejectionOf(stack.client.run(chain(square.with({ n: 8 }), toText), { idempotencyKey: 'wf-client-1' }), IdempotencyConflictError);
  });
});

describe('POST /v1/workflows: steps whose types cannot fit', () => {
  it('refuses a chain step that cannot take the previous output: 400 INVALID_WORKFLOW naming both, nothing sent', async () => {
    await expectNothingWritten(prefix, async () => {
      const res = await stack.post('/v1/workflows', { chain: [{ task: 'wf.square', input: { n: 2 } }, { task: 'wf.toText' }, { task: 'wf.inc' }] });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: {
          code: 'INVALID_WORKFLOW',
          message: 'Step wf.inc cannot take the output of step wf.toText: the input: gives string, needs number',
          from: 'step wf.toText',
          to: 'step wf.inc',
          mismatch: 'the input: gives string, needs number',
        },
      });
    });
  });

  it('refuses a chord whose callback takes no array, and an idempotent one before its key is used', async () => {
    await expectNothingWritten(prefix, async () => {
      const chord = { chord: { header: [{ task: 'wf.square', input: { n: 1 } }, { task: 'wf.square', input: { n: 2 } }], callback: { task: 'wf.inc' } } };
      for (const headers of [{}, { 'idempotency-key': 'wf-mismatch' }] as Record<string, string>[]) {
        const res = await stack.post('/v1/workflows', chord, headers);
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ error: { code: 'INVALID_WORKFLOW', from: 'the group [step wf.square, step wf.square]', to: 'step wf.inc' } });
      }
    });
  });

  it('accepts steps that fit', async () => {
    const before = await countKeys(redisUrl(), prefix);
    const res = await stack.post('/v1/workflows', { chain: [{ task: 'wf.square', input: { n: 2 } }, { task: 'wf.inc' }, { task: 'wf.toText' }] });
    expect(res.statusCode).toBe(202);
    expect(await countKeys(redisUrl(), prefix)).toBeGreaterThan(before);
  });

  it('client.run refuses the same mismatch before sending anything', async () => {
    const { square, toText, inc } = workflowTasks;
    await expectNothingWritten(prefix, async () => {
      // The types say so too: a JavaScript caller, or a cast, gets the same check at run time.
      const workflow = chain(square.with({ n: 2 }), toText, inc as never);
      const error = await rejectionOf(stack.client.run(workflow), StepTypeMismatchError);
      expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', from: 'step wf.toText', to: 'step wf.inc' });
    });
  });
});
