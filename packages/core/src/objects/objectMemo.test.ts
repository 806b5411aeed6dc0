import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ObjectMemo } from './objectMemo.ts';
import { encodeObject, type Ref } from './objectRef.ts';

const refOf = (value: unknown): { ref: Ref; bytes: Buffer } => {
  const { bytes, kind } = encodeObject(value);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { ref: { $taskpoolObject: 1, id: sha256.slice(0, 8), size: bytes.byteLength, sha256, kind, store: 'redis' }, bytes };
};

describe('ObjectMemo', () => {
  it('reads an object once per process and gives a Buffer as the same instance', async () => {
    const memo = new ObjectMemo(1_000);
    const { ref, bytes } = refOf(Buffer.alloc(100, 3));
    let reads = 0;
    const read = async (): Promise<Buffer> => (reads++, bytes);
    const first = await memo.read(ref, read);
    const second = await memo.read(ref, read);
    expect(reads).toBe(1);
    expect(second).toBe(first);
  });

  it('decodes a JSON value anew for each read, so a task may change its copy', async () => {
    const memo = new ObjectMemo(1_000);
    const { ref, bytes } = refOf({ rows: [1, 2] });
    const first = (await memo.read(ref, async () => bytes)) as { rows: number[] };
    first.rows.push(3);
    expect(await memo.read(ref, async () => Buffer.alloc(0))).toEqual({ rows: [1, 2] });
  });

  it('drops the least recently used past its bound, and keeps nothing bigger than the bound', async () => {
    const memo = new ObjectMemo(250);
    const [a, b, c, big] = [1, 2, 3, 4].map((fill) => refOf(Buffer.alloc(fill === 4 ? 300 : 100, fill)));
    for (const o of [a!, b!]) await memo.read(o.ref, async () => o.bytes);
    memo.get(a!.ref); // a is now the most recent
    await memo.read(c!.ref, async () => c!.bytes);
    expect(memo.get(b!.ref)).toBeUndefined();
    expect(memo.get(a!.ref)).toBeDefined();
    await memo.read(big!.ref, async () => big!.bytes);
    expect(memo.get(big!.ref)).toBeUndefined();
    expect(memo.get(c!.ref)).toBeDefined();
  });
});
