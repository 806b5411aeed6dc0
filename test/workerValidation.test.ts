import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { taskFailureOf, ValidationError } from '@taskpool/core';
import { slowRecord, sumSqrt, wrongOutput } from './fixtures/tasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { countKeys, redisUrl } from './helpers/testRedis.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/tasks.ts' });

describe('input validation', () => {
  it('rejects a bad input before anything is written to Redis, with every field-level issue', async () => {
    const before = await countKeys(redisUrl(), stack.prefix);
    // @ts-expect-error -- n must be a number: the wrong input does not compile either
    const error = await rejectionOf(stack.client.submit(sumSqrt, { n: 'many' }), ValidationError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.issues).toEqual([expect.objectContaining({ path: ['n'], code: 'invalid_type' })]);

    const several = await rejectionOf(stack.client.submit(slowRecord, { id: 1.5, ms: -1, file: 'x' }), ValidationError);
    expect(several.issues.map((i) => i.path.join('.'))).toEqual(['id', 'ms']);
    expect(several.issues.every((i) => i.message.length > 0)).toBe(true);
    expect(await countKeys(redisUrl(), stack.prefix)).toBe(before);
  });

  it('fails an invalid payload in the worker at once, without retries, and keeps serving', async () => {
    const queue = new Queue('default', { connection: { url: redisUrl() }, prefix: stack.prefix });
    // Written by hand, past the client's check, in the job envelope (`jobData.ts`).
    const job = await queue.add(sumSqrt.name, { v: 1, input: { n: 'not a number' } }, { attempts: 5, jobId: 'raw-invalid-1' });
    await queue.close();
    const handle = stack.client.handle(sumSqrt, job.id!);
    const error = await rejectionOf(handle.result({ timeoutMs: 20_000 }), ValidationError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.issues).toEqual([expect.objectContaining({ path: ['n'], code: 'invalid_type' })]);
    expect(taskFailureOf(error)).toMatchObject({ reason: 'invalid', attemptsMade: 1 });

    const next = await stack.client.submit(sumSqrt, { n: 10 });
    await expect(next.result({ timeoutMs: 20_000 })).resolves.toMatchObject({ sum: expect.any(Number) });
  });

  it('fails a handler that returns the wrong shape with a clear error, not retried', async () => {
    const handle = await stack.client.submit(wrongOutput, {});
    const error = await rejectionOf(handle.result({ timeoutMs: 20_000 }), ValidationError);
    expect(error.code).toBe('INVALID_OUTPUT');
    expect(error.message).toMatch(/Invalid output for task test\.wrongOutput: count/);
    expect(taskFailureOf(error)?.attemptsMade).toBe(1);
  });

  it('gives a result() timeout its own error and leaves the task alone', async () => {
    const handle = await stack.client.submit(sumSqrt, { n: 5 }, { delayMs: 60_000 });
    await expect(handle.result({ timeoutMs: 50 })).rejects.toMatchObject({ code: 'RESULT_TIMEOUT', name: 'ResultTimeoutError' });
    expect((await handle.status())?.state).toBe('delayed');
  });
});
