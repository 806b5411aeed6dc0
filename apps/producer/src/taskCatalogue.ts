import { queueOf, type AnyTask, type TaskDefaults } from '@taskpool/core';
import { z } from 'zod';

/** A JSON Schema (draft 2020-12), as zod writes it. */
export type JsonSchema = Record<string, unknown>;

/** One task as `GET /v1/tasks` lists it. */
export interface CatalogueEntry {
  name: string;
  queue: string;
  defaults: TaskDefaults;
  /** What `POST /v1/tasks/:name` accepts. */
  input: JsonSchema;
  /** What a completed job's `result` holds. */
  output: JsonSchema;
}

/**
 * The task module as data: each task's name, queue, defaults, and the JSON Schemas of its input (as a caller
 * sends it: zod's `io: 'input'`, so defaulted fields are optional) and of its output. Types zod cannot
 * express in JSON Schema (a transform's result, a date) become `{}` (anything) rather than failing.
 */
export function taskCatalogue(tasks: ReadonlyMap<string, AnyTask>): CatalogueEntry[] {
  return [...tasks.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((task) => ({
      name: task.name,
      queue: queueOf(task),
      defaults: { ...task.defaults },
      input: toJsonSchema(task.input, 'input'),
      output: toJsonSchema(task.output, 'output'),
    }));
}

/** zod's JSON Schema of a schema, without the `$schema` line (OpenAPI 3.1 embeds schemas without it). */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}
