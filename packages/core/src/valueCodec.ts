import SuperJSON from 'superjson';
import type { JsonValue } from './serializeError.ts';

/** superjson's annotations: where a value held a `Date`, a `bigint`, a `Map`, `undefined`... */
export type ValueMeta = NonNullable<ReturnType<typeof SuperJSON.serialize>['meta']>;

/**
 * A value as it crosses Redis and the sandbox channel: its JSON, and superjson's `meta` only where the value
 * holds what JSON cannot (a `Date` from `z.date()` or a date transform, a `bigint`, a `Map`, a `Set`,
 * `undefined` in an array...). A plain JSON value is stored as itself, so Redis and Bull Board show it as is.
 */
export interface EncodedValue {
  json: JsonValue;
  meta?: ValueMeta;
}

/** Encodes a value for Redis or IPC; plain JSON values skip superjson's walk. */
export function encodeValue(value: unknown): EncodedValue {
  if (isPlainJson(value)) return { json: value };
  const { json, meta } = SuperJSON.serialize(value);
  // superjson types `json` as possibly undefined; for `undefined` it gives null with a meta that says so.
  const text = (json ?? null) as JsonValue;
  return meta ? { json: text, meta } : { json: text };
}

/** The value an {@link EncodedValue} was made from (a `Date` again, a `bigint` again...). */
export function decodeValue(encoded: EncodedValue): unknown {
  return encoded.meta ? SuperJSON.deserialize({ json: encoded.json, meta: encoded.meta }) : encoded.json;
}

/** True when `JSON.stringify` then `JSON.parse` gives the same value back (strings, finite numbers, plain objects...). */
function isPlainJson(value: unknown, depth = 0): value is JsonValue {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (depth > 64) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}
