import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTask, type AnyTask } from '../defineTask.ts';
import { InvalidWorkflowError, StepTypeMismatchError } from '../errors.ts';
import { failureInfoSchema } from './failureInfo.ts';
import { checkStepTypes } from './checkStepTypes.ts';
import { compileWorkflow } from './compileWorkflow.ts';
import { workflowFromSpec, type WorkflowSpec } from './workflowSpec.ts';

/** A task `name` taking `input`, giving `output` (never run here). */
function task(name: string, input: z.ZodType, output: z.ZodType): AnyTask {
  return defineTask({ name, input, output, run: () => undefined as never }) as unknown as AnyTask;
}

const tasks = new Map<string, AnyTask>(
  [
    task('num', z.object({ n: z.number() }), z.number()),
    task('int', z.object({ n: z.number() }), z.int()),
    task('text', z.object({ n: z.number() }), z.string()),
    task('maybeText', z.object({ n: z.number() }), z.string().optional()),
    task('point', z.object({ n: z.number() }), z.object({ x: z.number(), y: z.number() })),
    task('loosePoint', z.object({ n: z.number() }), z.looseObject({ x: z.number() })),
    task('nullablePoint', z.object({ n: z.number() }), z.object({ x: z.number() }).nullable()),
    task('kind', z.object({ n: z.number() }), z.enum(['a', 'b'])),
    task('date', z.object({ n: z.number() }), z.date()),
    task('transformed', z.object({ n: z.number() }), z.number().transform(String)),
    task('inc', z.number(), z.number()),
    task('takesInt', z.int(), z.number()),
    task('upper', z.string(), z.string()),
    task('coerced', z.coerce.number(), z.number()),
    task('preprocessed', z.preprocess((v) => Number(v), z.number()), z.number()),
    task('caught', z.object({ x: z.number().catch(0) }), z.number()),
    task('anything', z.unknown(), z.number()),
    task('takesXY', z.object({ x: z.number(), y: z.number() }), z.number()),
    task('takesXZ', z.object({ x: z.number(), z: z.number() }), z.number()),
    task('takesXDefaultZ', z.object({ x: z.number(), z: z.number().default(0) }), z.number()),
    task('takesStrictX', z.strictObject({ x: z.number() }), z.number()),
    task('takesXText', z.object({ x: z.string() }), z.number()),
    task('takesOptionalText', z.string().optional(), z.number()),
    task('takesNumberOrText', z.union([z.number(), z.string()]), z.number()),
    task('takesB', z.literal('b'), z.number()),
    task('takesC', z.literal('c'), z.number()),
    task('sum', z.array(z.number()), z.number()),
    task('sumTexts', z.array(z.string()), z.number()),
    task('pair', z.tuple([z.number(), z.number()]), z.number()),
    task('triple', z.tuple([z.number(), z.number(), z.number()]), z.number()),
    task('onFailed', failureInfoSchema, z.number()),
    task('onFailedNumber', z.number(), z.number()),
  ].map((t) => [t.name, t]),
);

function check(spec: WorkflowSpec): void {
  checkStepTypes(workflowFromSpec(spec, (name) => tasks.get(name)).node);
}

function mismatch(spec: WorkflowSpec): StepTypeMismatchError {
  try {
    check(spec);
  } catch (error) {
    if (error instanceof StepTypeMismatchError) return error;
    throw error;
  }
  throw new Error('no mismatch found');
}

const chainOf = (first: string, ...rest: string[]): WorkflowSpec => ({ chain: [{ task: first, input: { n: 1 } }, ...rest.map((t) => ({ task: t }))] });

describe('checkStepTypes: what can never fit is refused', () => {
  it('a chain step whose input type the previous output never has', () => {
    const error = mismatch(chainOf('text', 'inc'));
    expect(error).toBeInstanceOf(InvalidWorkflowError);
    expect(error.code).toBe('INVALID_WORKFLOW');
    expect(error).toMatchObject({ from: 'step text', to: 'step inc' });
    expect(error.message).toBe('Step inc cannot take the output of step text: the input: gives string, needs number');
    expect(mismatch(chainOf('num', 'upper')).mismatch).toBe('the input: gives number, needs string');
  });

  it('a required key the output never has, a key of the wrong type, a key a strict object refuses', () => {
    expect(mismatch(chainOf('point', 'takesXZ')).mismatch).toBe('the input.z: needed, never given');
    expect(mismatch(chainOf('point', 'takesXText')).mismatch).toBe('the input.x: gives number, needs string');
    expect(mismatch(chainOf('point', 'takesStrictX')).mismatch).toBe('the input.y: always given, not allowed');
    expect(mismatch(chainOf('nullablePoint', 'upper')).to).toBe('step upper');
  });

  it('constants and enums that never meet', () => {
    expect(mismatch(chainOf('kind', 'takesC')).mismatch).toBe('the input: gives "a" or "b", needs "c"');
    expect(mismatch(chainOf('kind', 'inc')).mismatch).toContain('needs number');
  });

  it('a chord callback or a step after a group that takes no array, or an array of the wrong items or length', () => {
    const header = [{ task: 'num', input: { n: 1 } }, { task: 'num', input: { n: 2 } }];
    expect(mismatch({ chord: { header, callback: { task: 'inc' } } }).mismatch).toBe("the input: gives an array (a group's outputs), needs number");
    expect(mismatch({ chord: { header, callback: { task: 'sumTexts' } } }).mismatch).toBe('the input[0]: gives number, needs string');
    expect(mismatch({ chord: { header, callback: { task: 'triple' } } }).mismatch).toBe('the input: gives at most 2 items, needs at least 3');
    expect(mismatch({ chain: [{ group: header }, { task: 'upper' }] }).from).toBe('the group [step num, step num]');
    expect(mismatch({ chord: { header, onChildFailure: 'collect', callback: { task: 'inc' } } }).to).toBe('step inc');
  });

  it('the members of a group after a step, onSuccess and onFailure callbacks', () => {
    expect(mismatch({ chain: [{ task: 'text', input: { n: 1 } }, { group: [{ task: 'upper' }, { task: 'inc' }] }] }).to).toBe('step inc');
    expect(mismatch({ task: 'text', input: { n: 1 }, onSuccess: ['inc'] }).to).toBe('step inc');
    expect(mismatch({ task: 'text', input: { n: 1 }, onFailure: ['onFailedNumber'] }).from).toBe('a failed step (its FailureInfo)');
  });

  it('compileWorkflow refuses it, so client.run and POST /v1/workflows do', () => {
    const workflow = workflowFromSpec(chainOf('text', 'inc'), (name) => tasks.get(name));
    expect(() => compileWorkflow(workflow.node)).toThrow(StepTypeMismatchError);
  });
});

describe('checkStepTypes: what could work is accepted', () => {
  it.each([
    ['same types', chainOf('num', 'inc')],
    ['an integer for a number', chainOf('int', 'inc')],
    ['a number for an integer (it may be one)', chainOf('num', 'takesInt')],
    ['a union that has it', chainOf('text', 'takesNumberOrText')],
    ['a constant among the enum', chainOf('kind', 'takesB')],
    ['the keys it needs, and more (stripped)', chainOf('point', 'takesXY')],
    ['a missing key with a default', chainOf('point', 'takesXDefaultZ')],
    ['an object that may carry more keys', chainOf('loosePoint', 'takesXY')],
    ['an output that may be undefined', chainOf('maybeText', 'takesOptionalText')],
    ['an output that may be undefined, whatever follows', chainOf('maybeText', 'inc')],
    ['an output zod cannot describe (a date)', chainOf('date', 'inc')],
    ['an output zod cannot describe (a transform)', chainOf('transformed', 'inc')],
    ['an input that coerces', chainOf('text', 'coerced')],
    ['an input that preprocesses', chainOf('text', 'preprocessed')],
    ['an input with a catch', chainOf('text', 'caught')],
    ['an input that takes anything', chainOf('text', 'anything')],
    ['a bound step after any step', { chain: [{ task: 'text', input: { n: 1 } }, { task: 'num', input: { n: 2 } }] }],
    ['a chord of numbers into a sum, a pair', { chord: { header: [{ task: 'num', input: { n: 1 } }, { task: 'int', input: { n: 2 } }], callback: { task: 'pair' } } }],
    ['an array of unknown length into a tuple', { chord: { header: [{ task: 'num', input: { n: 1 } }], onChildFailure: 'ignore', callback: { task: 'pair' } } }],
    ['outcomes (collect) into a sum: unknown items', { chord: { header: [{ task: 'num', input: { n: 1 } }], onChildFailure: 'collect', callback: { task: 'sumTexts' } } }],
    ['a FailureInfo into its schema', { task: 'text', input: { n: 1 }, onFailure: ['onFailed'] }],
  ] satisfies [string, WorkflowSpec][])('%s', (_, spec) => {
    expect(() => check(spec)).not.toThrow();
  });
});
