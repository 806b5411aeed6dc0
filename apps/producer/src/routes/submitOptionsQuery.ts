import { submitOptionsSchema, type BatchJobOptions } from '@taskpool/core';
import { z } from 'zod';
import { parseRequest } from './parseRequest.ts';

/** A query value that is a number written out (`"2"`, `"1500"`), as a number; anything else as it is, for the schema to refuse. */
function numberOrText(value: unknown): unknown {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
}

/** The query of a task submit: `submitOptionsSchema` over the query's numbers. */
const submitQuerySchema = z.preprocess(
  (query) => (typeof query === 'object' && query !== null ? Object.fromEntries(Object.entries(query).map(([key, value]) => [key, numberOrText(value)])) : query),
  submitOptionsSchema,
);

/**
 * The per-job options of `POST /v1/tasks/:name[/batch]?attempts=2&priority=5&timeoutMs=30000&delayMs=1000`
 * (and `dedupeKey=...&dedupeTtlMs=...`: `SubmitOptions.dedupe`),
 * each bounded as a workflow step's (`submitOptionsSchema`); an unknown or out-of-bounds parameter is a 400
 * `BAD_REQUEST` naming it. Query parameters, not the body: the body is the task's input, never read as control.
 */
export function submitOptionsOf(query: unknown): BatchJobOptions {
  const { dedupeKey, dedupeTtlMs, ...options } = parseRequest(submitQuerySchema, query, 'query');
  if (dedupeKey === undefined) return options;
  return { ...options, dedupe: { key: dedupeKey, ...(dedupeTtlMs !== undefined && { ttlMs: dedupeTtlMs }) } };
}
