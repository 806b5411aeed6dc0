import type { z } from 'zod';
import type { AnyTask } from './defineTask.ts';
import { ValidationError, type ValidationIssue } from './errors.ts';

/** Parses a task's input with its zod schema; throws {@link ValidationError} `INVALID_INPUT` with every issue. */
export function parseTaskInput(task: AnyTask, input: unknown): unknown {
  return parseWith(task, 'INVALID_INPUT', task.input, input);
}

/** Parses a handler's return with the task's output schema; throws {@link ValidationError} `INVALID_OUTPUT`. */
export function parseTaskOutput(task: AnyTask, output: unknown): unknown {
  return parseWith(task, 'INVALID_OUTPUT', task.output, output);
}

function parseWith(task: AnyTask, code: 'INVALID_INPUT' | 'INVALID_OUTPUT', schema: z.ZodType, value: unknown): unknown {
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
