import { describe, expectTypeOf, it } from 'vitest';
import { chain, chord, createClient, group, type Bound, type StepOutcome, type Workflow, type WorkflowHandle } from '@taskpool/core';
import { double, fanOut, inc, onFailed, onSucceeded, square, sum, summarize, toText } from '../fixtures/workflowTasks.ts';

const client = createClient({ redisUrl: 'redis://127.0.0.1:1' });

describe('chain', () => {
  it('infers the output of the last step, and a run gives a handle of it', () => {
    const wf = chain(square.with({ n: 2 }), inc, double, toText);
    expectTypeOf(wf).toEqualTypeOf<Workflow<Bound, string>>();
    expectTypeOf(client.run(wf)).resolves.toEqualTypeOf<WorkflowHandle<string>>();
    expectTypeOf(chain(inc, double)).toEqualTypeOf<Workflow<number, number>>();
  });

  it('does not compile when a step cannot take the previous output', () => {
    // @ts-expect-error -- toText gives a string; inc takes a number
    chain(square.with({ n: 2 }), toText, inc);
    // @ts-expect-error -- sum takes number[]; square gives a number
    chain(square.with({ n: 2 }), sum);
    // @ts-expect-error -- the third step gets a string
    chain(square.with({ n: 1 }), inc, toText, double);
    // A bound step only runs after the previous one: it takes anything.
    expectTypeOf(chain(square.with({ n: 2 }), toText, square.with({ n: 3 }))).toEqualTypeOf<Workflow<Bound, number>>();
  });

  it('does not run a workflow that still needs an input', () => {
    // @ts-expect-error -- inc takes a number, nothing gives it one
    void client.run(chain(inc, double));
    // @ts-expect-error -- a wrong bound input
    square.with({ n: 'two' });
  });
});

describe('group and chord', () => {
  it('a group gives a tuple of outputs; collect gives outcomes; ignore an array', () => {
    expectTypeOf(group([square.with({ n: 1 }), chain(square.with({ n: 2 }), toText)])).toEqualTypeOf<Workflow<Bound, [number, string]>>();
    expectTypeOf(group([square.with({ n: 1 })], { onChildFailure: 'collect' })).toEqualTypeOf<Workflow<Bound, [StepOutcome<number>]>>();
    expectTypeOf(group([square.with({ n: 1 }), toText.with(3)], { onChildFailure: 'ignore' })).toEqualTypeOf<Workflow<Bound, (number | string)[]>>();
    const members = [1, 2, 3].map((n) => square.with({ n }));
    expectTypeOf(group(members)).toEqualTypeOf<Workflow<Bound, number[]>>();
    // Unbound members take the group's input.
    expectTypeOf(group([inc, double])).toEqualTypeOf<Workflow<number, [number, number]>>();
  });

  it('a chord callback must take what the group gives', () => {
    const members = [1, 2, 3].map((n) => square.with({ n }));
    expectTypeOf(chord(group(members), sum)).toEqualTypeOf<Workflow<Bound, number>>();
    expectTypeOf(chord(group(members, { onChildFailure: 'collect' }), summarize)).toEqualTypeOf<
      Workflow<Bound, { ok: number; failed: number; sum: number; errors: string[] }>
    >();
    // @ts-expect-error -- sum takes numbers, not outcomes
    chord(group(members, { onChildFailure: 'collect' }), sum);
    // @ts-expect-error -- inc takes one number
    chord(group(members), inc);
    expectTypeOf(chain(square.with({ n: 2 }), group([inc, double]), sum)).toEqualTypeOf<Workflow<Bound, number>>();
  });

  it('callbacks take the output, or a FailureInfo', () => {
    chain(square.with({ n: 2 }), inc).onSuccess(onSucceeded).onFailure(onFailed);
    // @ts-expect-error -- onSucceeded takes a number, the chain gives a string
    chain(square.with({ n: 2 }), toText).onSuccess(onSucceeded);
    // @ts-expect-error -- inc cannot take a FailureInfo
    chain(square.with({ n: 2 }), inc).onFailure(inc);
    expectTypeOf(fanOut.with({ count: 3 })).toEqualTypeOf<Workflow<Bound, number>>();
  });
});
