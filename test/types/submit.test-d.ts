import { describe, expectTypeOf, it } from 'vitest';
import { createClient, type TaskHandle, type TaskInput, type TaskOutput } from '@taskpool/core';
import { sumSqrt } from '../../examples/tasks.ts';

const client = createClient({ redisUrl: 'redis://127.0.0.1:1' });

describe('submit is typed from the task', () => {
  it('infers the input and output from the zod schemas', () => {
    expectTypeOf<TaskInput<typeof sumSqrt>>().toEqualTypeOf<{ n: number }>();
    expectTypeOf<TaskOutput<typeof sumSqrt>>().toEqualTypeOf<{ sum: number; pid: number }>();
    expectTypeOf(client.submit(sumSqrt, { n: 3 })).resolves.toEqualTypeOf<TaskHandle<{ sum: number; pid: number }>>();
    expectTypeOf<Awaited<ReturnType<TaskHandle<{ sum: number; pid: number }>['result']>>>().toEqualTypeOf<{ sum: number; pid: number }>();
  });

  it('does not compile with a wrong input', () => {
    // @ts-expect-error -- n must be a number
    void client.submit(sumSqrt, { n: '3' });
    // @ts-expect-error -- n is required
    void client.submit(sumSqrt, {});
    // @ts-expect-error -- unknown key in a fresh object literal
    void client.submit(sumSqrt, { n: 3, extra: true });
    expectTypeOf(client.submit).parameter(1).not.toBeAny();
  });
});
