import type { z } from 'zod';
import type { TaskContract } from './taskContract.ts';
import { ValidationError, type ValidationIssue } from './errors.ts';
import { pruneToSchema } from './pruneToSchema.ts';
import { encodeValue, type EncodedValue } from './valueCodec.ts';

/**
 * Where a task's values are parsed, each exactly once on each side (see docs/architecture.md):
 * - an input is checked where it enters (client, HTTP) by {@link prepareInput}, which stores it untransformed,
 *   pruned to what the schema keeps; the sandbox parses it (transforms included) for the handler;
 * - an output is parsed (transformed) once, in the sandbox, by {@link parseTaskOutput}, and stored encoded, so
 *   the caller decodes it (a `Date` stays a `Date`) without parsing it again.
 */

/** Parses a task's input with its zod schema; throws {@link ValidationError} `INVALID_INPUT` with every issue. */
export function parseTaskInput(task: TaskContract, input: unknown): unknown {
  return parseWith(task, 'INVALID_INPUT', task.input, input);
}

/** Parses a handler's return with the task's output schema; throws {@link ValidationError} `INVALID_OUTPUT`. */
export function parseTaskOutput(task: TaskContract, output: unknown): unknown {
  return parseWith(task, 'INVALID_OUTPUT', task.output, output);
}

/** An input checked by {@link checkInput}: what to store (not yet encoded), or the schema's issues. */
export type CheckedInput = { ok: true; value: unknown } | { ok: false; issues: ValidationIssue[] };

/**
 * Checks an input against the task's schema and gives what to store: the input as given (untransformed, so
 * the sandbox's parse applies the transforms once), without what the schema would strip.
 */
export function checkInput(task: TaskContract, input: unknown): CheckedInput {
  const parsed = task.input.safeParse(input);
  if (!parsed.success) return { ok: false, issues: toIssues(parsed.error) };
  return { ok: true, value: pruneToSchema(task.input, input) };
}

/** Array schemas of tasks' input schemas, made once per schema by the schema's own `.array()` (its own zod). */
const arraySchemas = new WeakMap<z.ZodType, z.ZodType | null>();

/**
 * {@link checkInput} of many inputs, in one parse of the array (cheaper per item than a parse each): each
 * input's issues are those of its index, reported under its own path.
 */
export function checkInputs(task: TaskContract, inputs: unknown[]): CheckedInput[] {
  if (inputs.length < 2) return inputs.map((input) => checkInput(task, input));
  let schema = arraySchemas.get(task.input);
  if (schema === undefined) {
    const array = (task.input as { array?: () => z.ZodType }).array;
    schema = typeof array === 'function' ? array.call(task.input) : null;
    arraySchemas.set(task.input, schema);
  }
  if (!schema) return inputs.map((input) => checkInput(task, input));
  const parsed = schema.safeParse(inputs);
  const issues = new Map<number, ValidationIssue[]>();
  if (!parsed.success) {
    for (const issue of toIssues(parsed.error)) {
      const [index, ...path] = issue.path;
      // An issue of the array itself (none is expected): checked item by item instead.
      if (typeof index !== 'number') return inputs.map((input) => checkInput(task, input));
      let list = issues.get(index);
      if (!list) issues.set(index, (list = []));
      list.push({ ...issue, path });
    }
  }
  return inputs.map((input, i) => {
    const found = issues.get(i);
    return found ? { ok: false, issues: found } : { ok: true, value: pruneToSchema(task.input, input) };
  });
}

/** {@link checkInput}, encoded for a job; throws {@link ValidationError} `INVALID_INPUT` for an invalid input. */
export function prepareInput(task: TaskContract, input: unknown): EncodedValue {
  const checked = checkInput(task, input);
  if (!checked.ok) throw new ValidationError('INVALID_INPUT', task.name, checked.issues);
  return encodeValue(checked.value);
}

function parseWith(task: TaskContract, code: 'INVALID_INPUT' | 'INVALID_OUTPUT', schema: z.ZodType, value: unknown): unknown {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ValidationError(code, task.name, toIssues(parsed.error));
}

/** zod's issues, reduced to what crosses the wire. */
export function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: issue.message,
    code: issue.code,
  }));
}
