import { describe, expectTypeOf, it } from 'vitest';
import { createClient, type MapItem, type MapRun, type Outcome, type TaskHandle, type WaitHandlesResult } from '@taskpool/core';
import { greet, sumSqrt } from '../../examples/tasks.ts';

const client = createClient({ redisUrl: 'redis://127.0.0.1:1' });
type SumOut = { sum: number; pid: number };
type GreetOut = { greeting: string };

describe('map is typed from the task', () => {
  it('yields outputs, or settled records with settled: true', () => {
    expectTypeOf(client.map(sumSqrt, [{ n: 1 }, { n: 2 }])).toEqualTypeOf<MapRun<SumOut>>();
    expectTypeOf(client.map(sumSqrt, [{ n: 1 }], { chunkSize: 100, ordered: false, window: 4 }).toArray()).resolves.toEqualTypeOf<SumOut[]>();
    expectTypeOf(client.map(sumSqrt, [{ n: 1 }], { settled: true })).toEqualTypeOf<MapRun<MapItem<SumOut>>>();
    expectTypeOf(client.map(sumSqrt, [{ n: 1 }], { chunkSize: 'auto' })).toEqualTypeOf<MapRun<SumOut>>();
    expectTypeOf<MapItem<SumOut>>().toEqualTypeOf<{ index: number; ok: true; value: SumOut } | { index: number; ok: false; error: Error }>();
  });

  it('reads arrays, iterables and async iterables of the input type, and applies defaults of the input schema', () => {
    function* lazy(): Generator<{ n: number }> {
      yield { n: 1 };
    }
    async function* remote(): AsyncGenerator<{ name: string }> {
      yield { name: 'ada' };
    }
    expectTypeOf(client.map(sumSqrt, lazy())).toEqualTypeOf<MapRun<SumOut>>();
    expectTypeOf(client.map(sumSqrt, new Set([{ n: 1 }]))).toEqualTypeOf<MapRun<SumOut>>();
    // `delayMs` has a default in greet's input schema: optional for the caller.
    expectTypeOf(client.map(greet, remote())).toEqualTypeOf<MapRun<GreetOut>>();
  });

  it('does not compile with wrong inputs', () => {
    // @ts-expect-error -- n must be a number
    void client.map(sumSqrt, [{ n: '1' }]);
    // @ts-expect-error -- an unknown key in a fresh object literal
    void client.map(sumSqrt, [{ n: 1, extra: true }]);
    // @ts-expect-error -- the inputs of another task
    void client.map(sumSqrt, [{ name: 'ada' }]);
    // @ts-expect-error -- one input, not an iterable of inputs
    void client.map(sumSqrt, { n: 1 });
    // @ts-expect-error -- chunkSize is a number or 'auto'
    void client.map(sumSqrt, [{ n: 1 }], { chunkSize: '10' });
  });

  it('iterates with for await', async () => {
    for await (const out of client.map(sumSqrt, [{ n: 1 }])) expectTypeOf(out).toEqualTypeOf<SumOut>();
    for await (const item of client.map(sumSqrt, [{ n: 1 }], { settled: true })) {
      if (item.ok) expectTypeOf(item.value).toEqualTypeOf<SumOut>();
      else expectTypeOf(item.error).toEqualTypeOf<Error>();
    }
  });
});

declare const sums: TaskHandle<SumOut>[];
declare const greeting: TaskHandle<GreetOut>;
declare const handle: TaskHandle<SumOut>;

describe('asCompleted and wait keep the handles’ types', () => {
  it('asCompleted yields the handles given', async () => {
    expectTypeOf(client.asCompleted(sums)).toEqualTypeOf<AsyncIterableIterator<TaskHandle<SumOut>>>();
    for await (const handle of client.asCompleted([...sums, greeting])) {
      expectTypeOf(handle).toEqualTypeOf<TaskHandle<SumOut> | TaskHandle<GreetOut>>();
    }
  });

  it('wait returns done and pending of the same type, and takes only known options', () => {
    expectTypeOf(client.wait(sums)).resolves.toEqualTypeOf<WaitHandlesResult<TaskHandle<SumOut>>>();
    expectTypeOf(client.wait(sums, { returnWhen: 'first-failed', timeoutMs: 10 })).resolves.toHaveProperty('pending').toEqualTypeOf<TaskHandle<SumOut>[]>();
    // @ts-expect-error -- not a returnWhen
    void client.wait(sums, { returnWhen: 'any' });
    // @ts-expect-error -- not handles
    void client.wait([1, 2]);
  });

  it('onDone and settled give an Outcome of the output', () => {
    handle.onDone((outcome) => expectTypeOf(outcome).toEqualTypeOf<Outcome<SumOut>>());
    expectTypeOf(handle.settled()).resolves.toEqualTypeOf<Outcome<SumOut>>();
    expectTypeOf(handle.cancel()).resolves.toEqualTypeOf<'removed' | 'signalled' | 'completed' | 'failed' | 'missing'>();
  });
});
