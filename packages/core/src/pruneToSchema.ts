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

type Pruner = (value: unknown) => unknown;

const IDENTITY: Pruner = (value) => value;
/** Pruners by schema, compiled once: a map's client prunes every item with the same schema. */
const pruners = new WeakMap<z.ZodType, Pruner>();

/**
 * A valid value with what its schema would strip taken out, in the schema's *input* form: an object keeps
 * only the keys of its shape (all of them for `z.looseObject` or a `catchall`), down the tree through arrays,
 * tuples, records, unions, intersections, optionals, defaults and pipes (a transform is pruned by what it
 * takes in). Nothing is transformed, so the worker's parse of the result gives what a parse of `value` would.
 * It is what the client stores: unknown keys of an input never reach Redis. Call it on a value the schema
 * accepts; a node it does not know is kept whole. Objects and arrays are always copied. The schema is read
 * once, into a pruner kept for it (a schema's definition does not change).
 */
export function pruneToSchema(schema: z.ZodType, value: unknown): unknown {
  return prunerOf(schema)(value);
}

function prunerOf(schema: z.ZodType): Pruner {
  const known = pruners.get(schema);
  if (known) return known;
  // A recursive schema meets itself while it is compiled: that reference calls the pruner once it exists.
  const pending: { prune?: Pruner } = {};
  pruners.set(schema, (value) => pending.prune!(value));
  const compiled = compile(schema);
  pending.prune = compiled;
  pruners.set(schema, compiled);
  return compiled;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** A pruner that leaves `null` and `undefined` as they are. */
function nonNull(prune: Pruner): Pruner {
  return (value) => (value === undefined || value === null ? value : prune(value));
}

function compile(schema: z.ZodType): Pruner {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type) && def.innerType) return prunerOf(def.innerType);
  switch (def.type) {
    case 'object':
      return def.shape ? objectPruner(def) : IDENTITY;
    case 'array': {
      if (!def.element) return IDENTITY;
      const element = prunerOf(def.element);
      return nonNull((value) => (Array.isArray(value) ? value.map((item) => element(item)) : value));
    }
    case 'tuple': {
      const items = (def.items ?? []).map(prunerOf);
      const rest = def.rest ? prunerOf(def.rest) : undefined;
      return nonNull((value) => (Array.isArray(value) ? value.map((item, i) => (items[i] ?? rest ?? IDENTITY)(item)) : value));
    }
    case 'record': {
      if (!def.valueType) return IDENTITY;
      const item = prunerOf(def.valueType);
      return nonNull((value) => (isRecord(value) ? mapValues(value, item) : value));
    }
    case 'pipe':
      return def.in ? prunerOf(def.in) : IDENTITY;
    case 'lazy': {
      if (!def.getter) return IDENTITY;
      let inner: Pruner | undefined;
      return nonNull((value) => (inner ??= prunerOf(def.getter!()))(value));
    }
    case 'union': {
      const options = def.options ?? [];
      return nonNull((value) => {
        const option = options.find((candidate) => candidate.safeParse(value).success);
        return option ? prunerOf(option)(value) : value;
      });
    }
    case 'intersection': {
      const left = def.left ? prunerOf(def.left) : IDENTITY;
      const right = def.right ? prunerOf(def.right) : IDENTITY;
      return nonNull((value) => {
        const [a, b] = [left(value), right(value)];
        return isRecord(a) && isRecord(b) ? merge(a, b) : value;
      });
    }
    default:
      return IDENTITY;
  }
}

function objectPruner(def: Def): Pruner {
  const shape = def.shape!;
  const catchallDef = def.catchall ? defOf(def.catchall) : undefined;
  const catchall = def.catchall && catchallDef?.type !== 'never' ? prunerOf(def.catchall) : undefined;
  // Compiled on first use: a shape may hold getters (recursive schemas) that are only safe to read then.
  let fields: Map<string, Pruner> | undefined;
  return nonNull((value) => {
    if (!isRecord(value)) return value;
    fields ??= new Map(Object.keys(shape).map((key) => [key, prunerOf(shape[key]!)]));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const field = fields.get(key) ?? catchall;
      if (field) set(out, key, field(value[key]));
    }
    return out;
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function mapValues(value: Record<string, unknown>, fn: Pruner): Record<string, unknown> {
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

/** An own property, even for `__proto__` (a plain assignment would set the prototype instead; any other key is assigned, which is faster). */
function set(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
