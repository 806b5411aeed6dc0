import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from './valueCodec.ts';

/** Through JSON, as it goes through Redis or the IPC channel. */
function roundTrip(value: unknown): unknown {
  return decodeValue(JSON.parse(JSON.stringify(encodeValue(value))) as ReturnType<typeof encodeValue>);
}

describe('valueCodec', () => {
  it('stores plain JSON as itself, with no meta', () => {
    const value = { a: [1, 'two', { three: true, four: null }], $wf: { kind: 'group' } };
    expect(encodeValue(value)).toEqual({ json: value });
    expect(roundTrip(value)).toEqual(value);
  });

  it('brings back what JSON loses: Date, bigint, Map, Set, undefined in arrays, NaN', () => {
    const value = { at: new Date('2026-01-02T03:04:05Z'), big: 2n ** 70n, map: new Map([['k', 1]]), set: new Set([1, 2]), list: [undefined, 1], nan: Number.NaN };
    const encoded = encodeValue(value);
    expect(encoded.meta).toBeDefined();
    const back = roundTrip(value) as typeof value;
    expect(back.at).toBeInstanceOf(Date);
    expect(back).toEqual(value);
  });

  it('encodes top-level values that are not objects', () => {
    for (const value of [5, 'x', null, true, new Date(0), undefined]) expect(roundTrip(value)).toEqual(value);
  });
});
