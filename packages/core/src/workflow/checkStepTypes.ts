import { z } from 'zod';
import type { TaskContract } from '../taskContract.ts';
import { StepTypeMismatchError } from '../errors.ts';
import { mismatchOf, UNKNOWN_GIVEN, type Given, type JsonSchema } from './schemaFit.ts';
import type { ChordStep, GroupStep, StepHooks, WorkflowNode } from './workflow.ts';

/** What a step gives, and who gives it (for the message). */
interface Output {
  given: Given;
  from: string;
}

/** What an `onFailure` callback is given (`FailureInfo`): only what is certain of it. */
const FAILURE_INFO: Output = {
  from: 'a failed step (its FailureInfo)',
  given: {
    kind: 'schema',
    schema: {
      type: 'object',
      properties: { workflowId: { type: 'string' }, jobId: { type: 'string' }, task: { type: 'string' }, error: { type: 'object' } },
      required: ['workflowId', 'jobId', 'task', 'error'],
    },
  },
};

/**
 * Checks, before anything is sent, that each step that takes the previous step's output can take it: a chain's
 * next step, a group's or a chord header's members after a step, a chord's callback (the members' outputs, in
 * an array), `onSuccess` and `onFailure` callbacks. Compares the JSON Schemas zod gives of the outputs and
 * inputs (see `schemaFit.ts`), and rejects only what can never work: where either side is unknown (a
 * transform, a date, a `z.custom`, a recursive schema, an input that coerces, preprocesses or catches, an
 * output that may be undefined), it accepts. Throws {@link StepTypeMismatchError} naming both steps.
 */
export function checkStepTypes(node: WorkflowNode): void {
  outputOf(node, undefined);
}

/** Checks `node` given `previous` (undefined: it takes nothing) and gives its output. */
function outputOf(node: WorkflowNode, previous: Output | undefined): Output {
  const output = stepOutput(node, previous);
  checkHooks(node.hooks, output);
  return output;
}

function stepOutput(node: WorkflowNode, previous: Output | undefined): Output {
  switch (node.type) {
    case 'task':
      if (!node.bound && previous) expectFits(previous, node.task);
      return { from: `step ${node.task.name}`, given: taskOutput(node.task) };
    case 'chain':
      return node.steps.reduce<Output | undefined>((before, step) => outputOf(step, before), previous) ?? { from: 'an empty chain', given: UNKNOWN_GIVEN };
    case 'group':
      return groupOutput(node, previous);
    case 'chord':
      return chordOutput(node, previous);
  }
}

function groupOutput(node: GroupStep, previous: Output | undefined): Output {
  const members = node.members.map((member) => outputOf(member, previous));
  const from = `the group [${members.map((member) => member.from).join(', ')}]`;
  if (node.onChildFailure !== 'fail') return { from, given: { kind: 'array' } };
  return { from, given: { kind: 'tuple', members: members.map((member) => member.given) } };
}

function chordOutput(node: ChordStep, previous: Output | undefined): Output {
  return outputOf(node.callback, outputOf(node.header, previous));
}

function checkHooks(hooks: StepHooks, output: Output): void {
  for (const task of hooks.onSuccess) expectFits(output, task);
  for (const task of hooks.onFailure) expectFits(FAILURE_INFO, task);
}

function expectFits(previous: Output, task: TaskContract): void {
  const expected = taskInput(task);
  const mismatch = expected && mismatchOf(previous.given, expected);
  if (mismatch) throw new StepTypeMismatchError(previous.from, `step ${task.name}`, mismatch);
}

const outputs = new WeakMap<z.ZodType, Given>();
const inputs = new WeakMap<z.ZodType, JsonSchema | null>();

/** A task's output as far as its schema tells: unknown if it may be undefined (JSON Schema does not say so). */
function taskOutput(task: TaskContract): Given {
  let given = outputs.get(task.output);
  if (!given) {
    const schema = !mayBeUndefined(task.output) && jsonSchemaOf(task.output, 'output');
    given = schema ? { kind: 'schema', schema } : UNKNOWN_GIVEN;
    outputs.set(task.output, given);
  }
  return given;
}

/** A task's input schema, or undefined when its JSON Schema would say less than it takes (see {@link lenient}). */
function taskInput(task: TaskContract): JsonSchema | undefined {
  let schema = inputs.get(task.input);
  if (schema === undefined) {
    schema = (!lenient(task.input) && jsonSchemaOf(task.input, 'input')) || null;
    inputs.set(task.input, schema);
  }
  return schema ?? undefined;
}

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema | undefined {
  try {
    return z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  } catch {
    return undefined;
  }
}

function mayBeUndefined(schema: z.ZodType): boolean {
  try {
    return schema.safeParse(undefined).success;
  } catch {
    return true;
  }
}

/**
 * True when an input schema takes values its JSON Schema does not show: somewhere in it a coercion
 * (`z.coerce.number()` takes `"3"`), a preprocess (a pipe from a transform), a `.catch()` or `z.success()`.
 */
function lenient(schema: z.ZodType): boolean {
  const seen = new Set<unknown>();
  const visit = (value: unknown): boolean => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return false;
    seen.add(value);
    if (Array.isArray(value)) return value.some(visit);
    const def = (value as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return Object.values(value).some(visit);
    if (def.coerce === true || def.type === 'catch' || def.type === 'success') return true;
    if (def.type === 'pipe' && (def.in as { _zod?: { def?: { type?: unknown } } } | undefined)?._zod?.def?.type === 'transform') return true;
    if (def.type === 'lazy' && typeof def.getter === 'function') return visit((def.getter as () => unknown)());
    return Object.values(def).some(visit);
  };
  return visit(schema);
}
