import { decodeObject, type Ref } from './objectRef.ts';

/** What a sandbox keeps of the objects its tasks read, at most: 256 MiB. */
export const DEFAULT_OBJECT_MEMO_BYTES = 256 * 1024 * 1024;

/**
 * The objects one process's tasks have read, kept in its memory (bounded, least recently used out), so that the
 * next task of the process that reads one neither reads its file nor hashes it again: what Python's pool
 * initializer gives a loaded model, without the user writing one. Buffers and typed arrays are given as the
 * same instance to every task of the process (as Ray's zero-copy arrays: read them, do not write to them); a
 * JSON value is kept as its checked bytes and decoded anew for each read, so a task may change what it gets.
 */
export class ObjectMemo {
  private readonly kept = new Map<string, { value: unknown; bytes: number }>();
  private total = 0;

  constructor(private readonly maxBytes: number = DEFAULT_OBJECT_MEMO_BYTES) {}

  /** The value of a reference read before, or undefined. */
  get(ref: Ref): unknown {
    const key = keyOf(ref);
    const entry = this.kept.get(key);
    if (!entry) return undefined;
    // Most recently used last.
    this.kept.delete(key);
    this.kept.set(key, entry);
    return ref.kind === 'value' ? decodeObject(entry.value as Buffer, 'value') : entry.value;
  }

  /** Reads a reference's checked bytes (`read`) unless kept, and keeps them (past the bound, the least recently used go). */
  async read(ref: Ref, read: () => Promise<Buffer>): Promise<unknown> {
    const hit = this.get(ref);
    if (hit !== undefined) return hit;
    const bytes = await read();
    const value = decodeObject(bytes, ref.kind);
    if (bytes.byteLength <= this.maxBytes) this.keep(keyOf(ref), ref.kind === 'value' ? bytes : value, bytes.byteLength);
    return value;
  }

  private keep(key: string, value: unknown, bytes: number): void {
    const previous = this.kept.get(key);
    if (previous) {
      this.kept.delete(key);
      this.total -= previous.bytes;
    }
    this.kept.set(key, { value, bytes });
    this.total += bytes;
    for (const [oldest, entry] of this.kept) {
      if (this.total <= this.maxBytes) break;
      this.kept.delete(oldest);
      this.total -= entry.bytes;
    }
  }
}

function keyOf(ref: Ref): string {
  return `${ref.sha256}:${ref.kind}`;
}
