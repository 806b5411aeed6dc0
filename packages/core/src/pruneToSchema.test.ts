import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { pruneToSchema } from './pruneToSchema.ts';

/** The pruner's contract: the pruned value parses to what the original parses to, and keeps no unknown key. */
function check(schema: z.ZodType, value: unknown, pruned: unknown): void {
  expect(pruneToSchema(schema, value)).toEqual(pruned);
  expect(schema.parse(pruneToSchema(schema, value))).toEqual(schema.parse(value));
}

describe('pruneToSchema', () => {
  it('drops the keys an object schema does not know, down the tree', () => {
    const schema = z.object({ a: z.number(), inner: z.object({ b: z.string() }), list: z.array(z.object({ c: z.boolean() })) });
    check(schema, { a: 1, pad: 'x', inner: { b: 'y', $wf: {} }, list: [{ c: true, d: 1 }] }, { a: 1, inner: { b: 'y' }, list: [{ c: true }] });
  });

  it('keeps every key of a loose object, a catchall or a record', () => {
    check(z.looseObject({ a: z.number() }), { a: 1, b: 2 }, { a: 1, b: 2 });
    check(z.object({ a: z.number() }).catchall(z.string()), { a: 1, b: 'x' }, { a: 1, b: 'x' });
    check(z.record(z.string(), z.object({ n: z.number() })), { k: { n: 1, extra: 2 } }, { k: { n: 1 } });
  });

  it('keeps the input form of transforms, pipes, defaults and coerce: nothing is transformed', () => {
    const schema = z.object({
      len: z.string().transform((s) => s.length),
      at: z.iso.datetime().transform((s) => new Date(s)),
      n: z.coerce.number(),
      d: z.number().default(3),
      piped: z.object({ x: z.string() }).pipe(z.object({ x: z.string() })),
    });
    const value = { len: 'abc', at: '2026-01-01T00:00:00Z', n: '4', piped: { x: 'y', z: 1 }, junk: true };
    check(schema, value, { len: 'abc', at: '2026-01-01T00:00:00Z', n: '4', piped: { x: 'y' } });
  });

  it('prunes a union by the option that accepts the value, and an intersection by both sides', () => {
    const union = z.union([z.object({ kind: z.literal('a'), a: z.number() }), z.object({ kind: z.literal('b'), b: z.string() })]);
    check(union, { kind: 'b', b: 'x', a: 1, extra: 0 }, { kind: 'b', b: 'x' });
    const both = z.intersection(z.object({ a: z.number(), o: z.object({ p: z.number() }) }), z.object({ b: z.number(), o: z.object({ q: z.number() }) }));
    check(both, { a: 1, b: 2, c: 3, o: { p: 1, q: 2, r: 3 } }, { a: 1, b: 2, o: { p: 1, q: 2 } });
  });

  it('follows optional, nullable, tuple and lazy schemas', () => {
    type Node = { name: string; children: Node[] };
    const tree: z.ZodType<Node> = z.lazy(() => z.object({ name: z.string(), children: z.array(tree) }));
    check(tree, { name: 'r', x: 1, children: [{ name: 'c', y: 2, children: [] }] }, { name: 'r', children: [{ name: 'c', children: [] }] });
    check(z.object({ o: z.object({ a: z.number() }).optional().nullable() }), { o: null }, { o: null });
    check(z.tuple([z.object({ a: z.number() })], z.object({ b: z.number() })), [{ a: 1, z: 0 }, { b: 2, z: 0 }], [{ a: 1 }, { b: 2 }]);
  });

  it('keeps `__proto__` as an own key where the schema keeps it, never as a prototype', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const pruned = pruneToSchema(z.looseObject({ a: z.number() }), value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(pruned)).toBe(Object.prototype);
    expect(Object.hasOwn(pruned, '__proto__')).toBe(true);
    expect('polluted' in {}).toBe(false);
    check(z.object({ a: z.number() }), value, { a: 1 });
  });
});
