import { describe, expect, it } from 'vitest';
import { serializeError } from './serializeError.ts';

class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(`status ${status}`, { cause: new TypeError('socket hang up') });
  }
}

describe('serializeError', () => {
  it('keeps name, message, stack, code, own fields and the cause chain', () => {
    const out = serializeError(new HttpError(502, 'E_UPSTREAM'));
    expect(out).toMatchObject({ name: 'HttpError', message: 'status 502', code: 'E_UPSTREAM', fields: { status: 502 } });
    expect(out.stack).toContain('serializeError.test.ts');
    expect(out.cause).toMatchObject({ name: 'TypeError', message: 'socket hang up' });
  });

  it('drops fields that are not JSON-safe and survives cycles', () => {
    const error = Object.assign(new Error('x'), { fn: () => 1, big: 10n, ok: [1, 'a'] });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    Object.assign(error, { cyclic });
    expect(serializeError(error).fields).toEqual({ ok: [1, 'a'] });
  });

  it('describes thrown non-errors', () => {
    expect(serializeError('boom')).toEqual({ name: 'NonErrorThrown', message: 'boom' });
    expect(serializeError({ a: 1 })).toEqual({ name: 'NonErrorThrown', message: '{"a":1}' });
  });

  it('stops a cause chain at depth 8', () => {
    let error = new Error('0');
    for (let i = 1; i < 20; i++) error = new Error(String(i), { cause: error });
    let depth = 0;
    for (let e = serializeError(error); e.cause; e = e.cause) depth++;
    expect(depth).toBe(8);
  });
});
