import type { RefCarried } from '../store/jobData.ts';
import type { EncodedValue } from '../valueCodec.ts';
import type { JobOwner } from './objectAccess.ts';
import type { ObjectKind, Ref } from './objectRef.ts';

/** Where a claim check stores a value too big to carry, and from what size. */
export interface ClaimCheckTarget {
  /** Values whose encoded JSON takes more bytes than this go by reference. */
  readonly inlineMaxBytes: number;
  /** Stores the encoded value's bytes as an object owned by the job `owner`. */
  putBytes(bytes: Buffer, kind: ObjectKind, options: { owner: JobOwner }): Promise<Ref>;
}

/**
 * The claim check (enterprise integration's pattern, as Ray and Temporal's payload codecs use it): an encoded
 * value whose JSON takes more than `inlineMaxBytes` is stored as an object (kind `value`: its encoded JSON, so
 * a `Date` or a `Map` in it comes back as one) owned by the job `owner`, and the job carries the reference;
 * a smaller one is carried as it is. Above the store's largest object it throws `PayloadTooLargeError` and
 * nothing is written. The measure costs one `JSON.stringify` of the value; a value that fits is given back
 * at once, not in a promise (the common case, on every submit's path).
 */
export function claimCheck(encoded: EncodedValue, target: ClaimCheckTarget, owner: JobOwner): EncodedValue | Promise<RefCarried> {
  const bytes = oversizeBytes(encoded, target.inlineMaxBytes);
  return bytes ? target.putBytes(bytes, 'value', { owner }).then((ref) => ({ ref })) : encoded;
}

/** A target whose stores are retried by `retried` (a submit's: while Redis is unreachable, as its add is). */
export function retriedTarget(target: ClaimCheckTarget, retried: <T>(call: () => Promise<T>) => Promise<T>): ClaimCheckTarget {
  return { inlineMaxBytes: target.inlineMaxBytes, putBytes: (bytes, kind, options) => retried(() => target.putBytes(bytes, kind, options)) };
}

/** The bytes of an encoded value whose JSON takes more than `inlineMaxBytes`, or undefined when it fits inline. */
export function oversizeBytes(encoded: EncodedValue, inlineMaxBytes: number): Buffer | undefined {
  const text = JSON.stringify(encoded);
  // A string's UTF-8 size is at most 3 bytes per UTF-16 unit: encode only what may be over.
  if (text.length * 3 <= inlineMaxBytes) return undefined;
  const bytes = Buffer.from(text);
  return bytes.byteLength > inlineMaxBytes ? bytes : undefined;
}
