import { chain, collectTasks, IdempotencyConflictError } from '@taskpool/core';
import { describe, expect, it } from 'vitest';
import * as trustTasks from './fixtures/trustTasks.ts';
import { double, nextDay, transformCalls, transforms, wordLength } from './fixtures/trustTasks.ts';
import { useProducerStack } from './helpers/producerStack.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/trustTasks.ts', concurrency: 2 });
const producer = useProducerStack({ tasks: collectTasks(trustTasks), prefix: stack.prefix });

const at = '2026-03-04T05:06:07.000Z';
const input = { word: 'hello', at, count: '5' as unknown as number };

/** What `transforms` gives for {@link input}: numbers and Dates where the schemas transform. */
const output = {
  letters: 5,
  at: new Date(at),
  next: new Date(Date.parse(at) + 86_400_000),
  total: 12,
  label: 4,
  parses: 1,
};

describe('each value is parsed once on each side', () => {
  it('submit: the handler gets the transformed input (parsed once, in the sandbox); the caller the transformed output', async () => {
    const before = { ...transformCalls };
    const handle = await stack.client.submit(transforms, input);
    const result = await handle.result({ timeoutMs: 20_000 });
    expect(result).toEqual(output);
    expect(result.at).toBeInstanceOf(Date);
    expect(result.next).toBeInstanceOf(Date);
    // The client checked the input (one run of the input transform here) and parsed no output.
    expect(transformCalls.input - before.input).toBe(1);
    expect(transformCalls.output - before.output).toBe(0);
  });

  it('map, chunked and not: every item transformed once both ways', async () => {
    const inputs = Array.from({ length: 9 }, (_, i) => ({ ...input, word: 'x'.repeat(i + 1) }));
    const expectedItems = inputs.map((_, i) => ({ ...output, letters: i + 1 }));
    for (const chunkSize of [1, 4]) {
      const before = transformCalls.output;
      const results = await stack.client.map(transforms, inputs, { chunkSize }).toArray();
      expect(results, `chunkSize ${chunkSize}`).toEqual(expectedItems);
      expect(results.every((r) => r.at instanceof Date && r.next instanceof Date)).toBe(true);
      expect(transformCalls.output).toBe(before);
    }
  });

  it('workflows: a chain step receives the previous step\'s transformed output (a Date, a number)', async () => {
    const handle = await stack.client.run(chain(transforms.with(input), nextDay));
    expect(await handle.result({ timeoutMs: 20_000 })).toEqual({ day: 5, label: 4, letters: 5 });
    const lengths = await stack.client.run(chain(wordLength.with({ word: 'seven' }), double));
    expect(await lengths.result({ timeoutMs: 20_000 })).toBe(10);
    const alone = await stack.client.submit(wordLength, { word: 'four' });
    expect(await alone.result({ timeoutMs: 20_000 })).toBe(4);
  });

  it('HTTP: the input is taken as JSON, the output given as JSON (a Date as its ISO string)', async () => {
    const res = await producer.post('/v1/tasks/io.transforms', input);
    expect(res.statusCode).toBe(202);
    const { id } = res.json<{ id: string }>();
    const job = await producer.request({ method: 'GET', url: `/v1/jobs/${id}?waitMs=20000` });
    expect(job.json<{ state: string; result: unknown }>()).toMatchObject({
      state: 'completed',
      result: { ...output, at, next: new Date(Date.parse(at) + 86_400_000).toISOString() },
    });
    const wf = await producer.post('/v1/workflows', { chain: [{ task: 'io.wordLength', input: { word: 'three' } }, { task: 'io.double' }] });
    expect(wf.statusCode).toBe(202);
    const done = await producer.request({ method: 'GET', url: `/v1/workflows/${wf.json<{ id: string }>().id}?waitMs=20000` });
    expect(done.json<{ result: unknown }>().result).toBe(10);
  });
});

describe('idempotency compares inputs as canonical JSON', () => {
  it('takes the same input in another key order as the same submit, and another input as a conflict', async () => {
    const key = `canonical-${Date.now()}`;
    const first = await stack.client.submit(transforms, { word: 'ab', at, count: 1, step: 2 }, { idempotencyKey: key });
    const again = await stack.client.submit(transforms, { step: 2, count: 1, at, word: 'ab' }, { idempotencyKey: key });
    expect(again.id).toBe(first.id);
    await expect(stack.client.submit(transforms, { word: 'ab', at, count: 1, step: 3 }, { idempotencyKey: key })).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it('over HTTP too: the same body in another key order answers the first job, replayed', async () => {
    const headers = { 'idempotency-key': `canonical-http-${Date.now()}` };
    const first = await producer.post('/v1/tasks/io.transforms', { word: 'ab', at, count: 1 }, headers);
    const again = await producer.post('/v1/tasks/io.transforms', { count: 1, at, word: 'ab' }, headers);
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ id: first.json<{ id: string }>().id, replayed: true });
    const other = await producer.post('/v1/tasks/io.transforms', { count: 2, at, word: 'ab' }, headers);
    expect(other.statusCode).toBe(409);
  });
});
