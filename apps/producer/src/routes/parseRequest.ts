import { TaskpoolError, toIssues } from '@taskpool/core';
import type { z } from 'zod';

/** A request's body, query or header failed its schema (HTTP 400 `BAD_REQUEST`, with zod's issues). */
export class BadRequestError extends TaskpoolError {
  override name = 'BadRequestError';
  constructor(
    message: string,
    readonly issues: ReturnType<typeof toIssues>,
  ) {
    super('BAD_REQUEST', message);
  }
}

/** Parses a part of the request (not a task's input: that is `INVALID_INPUT`) with a zod schema. */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = toIssues(parsed.error);
  const first = issues[0];
  const detail = first ? `: ${first.path.join('.') || '(root)'}: ${first.message}` : '';
  throw new BadRequestError(`Invalid ${what}${detail}`, issues);
}
