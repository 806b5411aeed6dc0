import type { z } from 'zod';

/** The parts of zod 4's schema definitions the pruner reads. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  items?: z.ZodType[];
  rest?: z.ZodType | null;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  valueType?: z.ZodType;
  getter?: () => z.ZodType;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional']);

/**
 * A valid value with what its schema would strip taken out, in the schema's *input* form: an object keeps
 * only the keys of its shape (all of them for `z.looseObject` or a `catchall`), down the tree through arrays,
 * tuples, records, unions, intersections, optionals, defaults and pipes (a transform is pruned by what it
 * takes in). Nothing is transformed, so the worker's parse of the result gives what a parse of `value` would.
 * It is what the client stores: unknown keys of an input never reach Redis. Call it on a value the schema
 * accepts; a node it does not know is kept whole.
 */
export function pruneToSchema(schema: z.ZodType, value: unknown): unknown {
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  if (value === undefined || value === null) return value;
  if (WRAPPERS.has(def.type) && def.innerType) return pruneToSchema(def.innerType, value);
  switch (def.type) {
    case 'object':
      return pruneObject(def, value);
    case 'array':
      return Array.isArray(value) && def.element ? value.map((item) => pruneToSchema(def.element!, item)) : value;
    case 'tuple':
      return Array.isArray(value) ? value.map((item, i) => pruneItem(def, item, i)) : value;
    case 'record':
      return isRecord(value) && def.valueType ? mapValues(value, (item) => pruneToSchema(def.valueType!, item)) : value;
    case 'pipe':
      return def.in ? pruneToSchema(def.in, value) : value;
    case 'lazy':
      return def.getter ? pruneToSchema(def.getter(), value) : value;
    case 'union': {
      const option = def.options?.find((candidate) => candidate.safeParse(value).success);
      return option ? pruneToSchema(option, value) : value;
    }
    case 'intersection': {
      const left = def.left ? pruneToSchema(def.left, value) : value;
      const right = def.right ? pruneToSchema(def.right, value) : value;
      return isRecord(left) && isRecord(right) ? merge(left, right) : value;
    }
    default:
      return value;
  }
}

function pruneObject(def: Def, value: unknown): unknown {
  if (!isRecord(value) || !def.shape) return value;
  const catchall = def.catchall && (def.catchall as unknown as { _zod: { def: Def } })._zod.def.type !== 'never' ? def.catchall : undefined;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field = Object.hasOwn(def.shape, key) ? def.shape[key] : catchall;
    if (field) set(out, key, pruneToSchema(field, value[key]));
  }
  return out;
}

function pruneItem(def: Def, item: unknown, index: number): unknown {
  const schema = def.items?.[index] ?? def.rest ?? undefined;
  return schema ? pruneToSchema(schema, item) : item;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function mapValues(value: Record<string, unknown>, fn: (item: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) set(out, key, fn(value[key]));
  return out;
}

function merge(left: Record<string, unknown>, right: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const source of [left, right]) {
    for (const key of Object.keys(source)) {
      const [a, b] = [out[key], source[key]];
      set(out, key, Object.hasOwn(out, key) && isRecord(a) && isRecord(b) ? merge(a, b) : b);
    }
  }
  return out;
}

/** An own property, even for `__proto__` (a plain assignment would set the prototype instead). */
function set(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
