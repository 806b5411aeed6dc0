import { collectTasks } from '@taskpool/core';
import { describe, expect, it } from 'vitest';
import * as dedupeTasks from './fixtures/dedupeTasks.ts';
import { useProducerStack } from './helpers/producerStack.ts';

// Deduplication over HTTP (issue #16): `?dedupeKey=` on a submit, or the task's declared `dedupe`.
const stack = useProducerStack({ tasks: collectTasks(dedupeTasks) });
const body = (userId: string, n: number) => ({ userId, n, log: '/dev/null' });

describe('POST /v1/tasks/:name with dedupe', () => {
  it('concurrent submits with one dedupeKey get one job; all but one say deduplicated', async () => {
    const responses = await Promise.all(Array.from({ length: 6 }, (_, n) => stack.post('/v1/tasks/dd.plain?dedupeKey=order-7', body('a', n))));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(6).fill(202));
    const json = responses.map((r) => r.json<{ id: string; deduplicated?: boolean }>());
    expect(new Set(json.map((j) => j.id)).size).toBe(1);
    expect(json.filter((j) => j.deduplicated === true)).toHaveLength(5);
  });

  it("the task's declared dedupe applies without a query; another key is another job", async () => {
    const [a, b, c] = await Promise.all([stack.post('/v1/tasks/dd.record', body('u1', 1)), stack.post('/v1/tasks/dd.record', body('u1', 2)), stack.post('/v1/tasks/dd.record', body('u2', 3))]);
    const [ja, jb, jc] = [a, b, c].map((r) => r!.json<{ id: string }>());
    expect(ja!.id).toBe(jb!.id);
    expect(jc!.id).not.toBe(ja!.id);
  });

  it('a batch with a dedupeKey makes one job for all its inputs', async () => {
    const res = await stack.post('/v1/tasks/dd.plain/batch?dedupeKey=batch-1&dedupeTtlMs=5000', { inputs: [body('b', 1), body('b', 2), body('b', 3)] });
    expect(res.statusCode).toBe(202);
    expect(new Set(res.json<{ ids: string[] }>().ids).size).toBe(1);
  });

  it('an empty dedupeKey is a 400 naming it', async () => {
    const res = await stack.post('/v1/tasks/dd.plain?dedupeKey=', body('c', 1));
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { code: string; message: string } }>().error).toMatchObject({ code: 'BAD_REQUEST' });
    expect(res.json<{ error: { message: string } }>().error.message).toContain('dedupeKey');
  });
});
