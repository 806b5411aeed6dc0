import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTask } from './defineTask.ts';
import { checkInput, checkInputs } from './parseTaskIO.ts';

const task = defineTask({
  name: 'parse.point',
  input: z.object({ x: z.number(), tags: z.array(z.string()).optional() }),
  output: z.number(),
  run: ({ x }) => x,
});

describe('checkInputs', () => {
  it('gives what checkInput gives for each input, in one parse: pruned values, and each invalid input its own issues', () => {
    const inputs: unknown[] = [{ x: 1, extra: true }, { x: 'no' }, { x: 2, tags: ['a', 3] }, { x: 3, tags: ['b'] }];
    const many = checkInputs(task, inputs);
    expect(many).toEqual(inputs.map((input) => checkInput(task, input)));
    expect(many[0]).toEqual({ ok: true, value: { x: 1 } });
    expect(many[1]).toMatchObject({ ok: false, issues: [{ path: ['x'] }] });
    expect(many[2]).toMatchObject({ ok: false, issues: [{ path: ['tags', 1] }] });
    expect(many[3]).toEqual({ ok: true, value: { x: 3, tags: ['b'] } });
  });
});
