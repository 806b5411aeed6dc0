/** A JSON Schema (draft 2020-12) as zod's `z.toJSONSchema` writes it. */
export type JsonSchema = Record<string, unknown>;

/**
 * What a workflow step gives the next one, as far as it is known before anything runs:
 * - `schema`: a value of this JSON Schema (a task's output schema, `io: 'output'`);
 * - `tuple`: an array of exactly these values, in order (a group's outputs under the `fail` policy);
 * - `array`: some array (a group's outputs under `collect` or `ignore`);
 * - `unknown`: anything (nothing is checked against it).
 */
export type Given = { kind: 'schema'; schema: JsonSchema } | { kind: 'tuple'; members: Given[] } | { kind: 'array' } | { kind: 'unknown' };

/** A step's output nothing is known of. */
export const UNKNOWN_GIVEN: Given = { kind: 'unknown' };

/**
 * Why no value described by `given` can ever pass `expected` (a step's input schema, `io: 'input'`), or
 * undefined when one might. Sound, not complete: it answers only what it can decide for certain (types that
 * cannot overlap, a required key the given object never has, a key a strict object refuses, an array's
 * length, constants), and says nothing of anything else (`$ref`, formats, bounds, patterns, refinements...).
 * `at` is where in the value the mismatch is, for the message.
 */
export function mismatchOf(given: Given, expected: JsonSchema, at = 'the input'): string | undefined {
  if (given.kind === 'unknown' || '$ref' in expected) return undefined;
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = schemasIn(expected[key]);
    if (branches && branches.length > 0) {
      const misses = branches.map((branch) => mismatchOf(given, branch, at));
      if (misses.every((miss) => miss !== undefined)) return `${at}: ${describe(given)} matches none of the ${branches.length} accepted forms`;
    }
  }
  for (const part of schemasIn(expected.allOf) ?? []) {
    const miss = mismatchOf(given, part, at);
    if (miss) return miss;
  }
  if (given.kind === 'schema') return schemaMismatch(given.schema, expected, at);
  return arrayMismatch(given, expected, at);
}

/** A value of the JSON Schema `given` against `expected`, from the top (`anyOf`, `$ref`... of `expected` included). */
function fit(given: JsonSchema, expected: JsonSchema, at: string): string | undefined {
  return mismatchOf({ kind: 'schema', schema: given }, expected, at);
}

/** A value of the JSON Schema `given` against `expected` (its `anyOf`, `allOf` and `$ref` already seen to). */
function schemaMismatch(given: JsonSchema, expected: JsonSchema, at: string): string | undefined {
  if ('$ref' in given) return undefined;
  const branches = schemasIn(given.anyOf) ?? schemasIn(given.oneOf);
  if (branches && branches.length > 0) {
    const misses = branches.map((branch) => schemaMismatch({ ...withoutKeys(given, 'anyOf', 'oneOf'), ...branch }, expected, at));
    return misses.every((miss) => miss !== undefined) ? misses[0] : undefined;
  }
  for (const part of schemasIn(given.allOf) ?? []) {
    const miss = schemaMismatch(part, expected, at);
    if (miss) return miss;
  }
  const givenTypes = typesOf(given);
  const expectedTypes = typesOf(expected);
  if (givenTypes && expectedTypes && !givenTypes.some((type) => expectedTypes.some((other) => overlap(type, other)))) {
    return `${at}: gives ${givenTypes.join(' or ')}, needs ${expectedTypes.join(' or ')}`;
  }
  const givenValues = valuesOf(given);
  const expectedValues = valuesOf(expected);
  if (givenValues && expectedValues && !givenValues.some((value) => expectedValues.some((other) => sameJson(value, other)))) {
    return `${at}: gives ${givenValues.map(show).join(' or ')}, needs ${expectedValues.map(show).join(' or ')}`;
  }
  if (givenValues && expectedTypes && !givenValues.some((value) => expectedTypes.some((type) => overlap(jsonTypeOf(value), type)))) {
    return `${at}: gives ${givenValues.map(show).join(' or ')}, needs ${expectedTypes.join(' or ')}`;
  }
  if (givenTypes?.length === 1 && givenTypes[0] === 'object') return objectMismatch(given, expected, at);
  if (givenTypes?.length === 1 && givenTypes[0] === 'array') return lengthMismatch(given, expected, at);
  return undefined;
}

/** An object of the schema `given` (its keys known as far as `properties`, `required` and `additionalProperties` say). */
function objectMismatch(given: JsonSchema, expected: JsonSchema, at: string): string | undefined {
  const givenProps = propertiesOf(given);
  const expectedProps = propertiesOf(expected);
  const givenRequired = requiredOf(given);
  const closed = given.additionalProperties === false;
  const givenExtra = schemaOrUndefined(given.additionalProperties);
  for (const key of requiredOf(expected)) {
    const where = `${at}.${key}`;
    const wanted = expectedProps[key] ?? {};
    // Absent or ill-typed, the value fails: a key the given object may lack is still checked for its type.
    if (key in givenProps) {
      const miss = fit(givenProps[key]!, wanted, where);
      if (miss) return miss;
    } else if (closed) {
      return `${where}: needed, never given`;
    } else if (givenExtra) {
      const miss = fit(givenExtra, wanted, where);
      if (miss) return miss;
    }
  }
  const expectedExtra = expected.additionalProperties;
  for (const key of givenRequired) {
    if (!(key in givenProps) || requiredOf(expected).includes(key)) continue;
    const where = `${at}.${key}`;
    if (key in expectedProps) {
      const miss = fit(givenProps[key]!, expectedProps[key]!, where);
      if (miss) return miss;
    } else if (expectedExtra === false) {
      return `${where}: always given, not allowed`;
    } else {
      const extra = schemaOrUndefined(expectedExtra);
      const miss = extra && fit(givenProps[key]!, extra, where);
      if (miss) return miss;
    }
  }
  return undefined;
}

/** A group's outputs, as a tuple or an array of unknown length. */
function arrayMismatch(given: Extract<Given, { kind: 'tuple' | 'array' }>, expected: JsonSchema, at: string): string | undefined {
  const expectedTypes = typesOf(expected);
  if (expectedTypes && !expectedTypes.includes('array')) return `${at}: gives an array (a group's outputs), needs ${expectedTypes.join(' or ')}`;
  if (given.kind === 'array') return undefined;
  const length = given.members.length;
  const miss = lengthMismatch({ minItems: length, maxItems: length }, expected, at);
  if (miss) return miss;
  const prefix = schemasIn(expected.prefixItems) ?? [];
  const rest = schemaOrUndefined(expected.items);
  for (const [index, member] of given.members.entries()) {
    const wanted = prefix[index] ?? rest;
    const memberMiss = wanted && mismatchOf(member, wanted, `${at}[${index}]`);
    if (memberMiss) return memberMiss;
  }
  return undefined;
}

function lengthMismatch(given: JsonSchema, expected: JsonSchema, at: string): string | undefined {
  const givenMin = numberOr(given.minItems, 0);
  const givenMax = numberOr(given.maxItems, Infinity);
  const expectedMin = numberOr(expected.minItems, 0);
  const expectedMax = numberOr(expected.maxItems, Infinity);
  if (givenMax < expectedMin) return `${at}: gives at most ${givenMax} items, needs at least ${expectedMin}`;
  if (givenMin > expectedMax) return `${at}: gives at least ${givenMin} items, takes at most ${expectedMax}`;
  return undefined;
}

function overlap(a: string, b: string): boolean {
  return a === b || (a === 'integer' && b === 'number') || (a === 'number' && b === 'integer');
}

function typesOf(schema: JsonSchema): string[] | undefined {
  const { type } = schema;
  if (typeof type === 'string') return [type];
  return Array.isArray(type) && type.every((t) => typeof t === 'string') ? (type as string[]) : undefined;
}

function valuesOf(schema: JsonSchema): unknown[] | undefined {
  if ('const' in schema) return [schema.const];
  return Array.isArray(schema.enum) ? schema.enum : undefined;
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function describe(given: Given): string {
  if (given.kind === 'tuple') return `an array of ${given.members.length}`;
  if (given.kind === 'array') return 'an array';
  return (given.kind === 'schema' && typesOf(given.schema)?.join(' or ')) || 'the value';
}

function propertiesOf(schema: JsonSchema): Record<string, JsonSchema> {
  const { properties } = schema;
  return typeof properties === 'object' && properties !== null ? (properties as Record<string, JsonSchema>) : {};
}

function requiredOf(schema: JsonSchema): string[] {
  return Array.isArray(schema.required) ? schema.required.filter((key): key is string => typeof key === 'string') : [];
}

function schemasIn(value: unknown): JsonSchema[] | undefined {
  return Array.isArray(value) ? value.filter((item): item is JsonSchema => typeof item === 'object' && item !== null) : undefined;
}

function schemaOrUndefined(value: unknown): JsonSchema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonSchema) : undefined;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function withoutKeys(schema: JsonSchema, ...keys: string[]): JsonSchema {
  return Object.fromEntries(Object.entries(schema).filter(([key]) => !keys.includes(key)));
}
