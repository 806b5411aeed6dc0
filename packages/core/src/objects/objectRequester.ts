import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, PayloadTooLargeError } from '../errors.ts';
import type { SerializedError } from '../serializeError.ts';
import { writeAtomically } from './fsObjectStore.ts';
import { ObjectMemo } from './objectMemo.ts';
import { readCachedBytes, type ObjectKind, type Ref } from './objectRef.ts';

/** What a sandbox asks its supervisor for: an object's local file, or to store the local file it wrote (for `jobId`). */
export type ObjectRequest =
  | { type: 'object'; requestId: number; ref: Ref; refetch?: boolean }
  | { type: 'object-put'; requestId: number; sha256: string; size: number; kind: ObjectKind; jobId: string };
/** What it is told. */
export type ObjectReply =
  | { type: 'object-ready'; requestId: number; path: string }
  | { type: 'object-stored'; requestId: number; ref: Ref }
  | { type: 'object-failed'; requestId: number; error: SerializedError };

/** What a sandbox is told of its machine's objects when it starts. */
export interface SandboxObjectSettings {
  /** The machine's object cache (see `worker/objectCache.ts`): `ctx.put` writes there first. */
  cacheDir?: string;
  /** Outputs whose encoded JSON takes more bytes than this go by reference (the claim check). */
  inlineMaxBytes: number;
  /** The largest object, bytes: a bigger `put` throws `PayloadTooLargeError` before anything is written. */
  maxObjectBytes: number;
}

/** An error as a sandbox rebuilds it from its supervisor's answer: its name, code and message kept. */
class ObjectRequestError extends Error {
  constructor(readonly serialized: SerializedError) {
    super(serialized.message);
    this.name = serialized.name;
    Object.assign(this, serialized.code !== undefined && { code: serialized.code });
  }
}

type Waiter = { resolve: (reply: Extract<ObjectReply, { type: 'object-ready' | 'object-stored' }>) => void; reject: (error: Error) => void };

/**
 * A sandbox's objects. `ctx.get(ref)` asks the supervisor for the object (the supervisor fetches it once per
 * machine into the shared cache, `worker/objectCache.ts`) and reads the local file it names; the sandbox checks
 * the bytes itself, and bytes that do not match are asked for again with `refetch`, never used (see
 * `readCachedBytes`). `ctx.put` writes the bytes into the shared cache (so the machine's tasks read them with
 * no fetch) and asks the supervisor to store that file: the bytes never cross the IPC channel.
 */
export class ObjectRequester {
  private next = 1;
  private readonly waiting = new Map<number, Waiter>();
  private readonly memo = new ObjectMemo();

  constructor(
    private readonly send: (request: ObjectRequest) => void,
    private readonly settings: SandboxObjectSettings,
  ) {}

  get inlineMaxBytes(): number {
    return this.settings.inlineMaxBytes;
  }

  /** A reference's value: kept in this sandbox's memory once read (see `ObjectMemo`), else from the machine's cache. */
  async get(ref: Ref): Promise<unknown> {
    return this.memo.read(ref, () => readCachedBytes(ref, (refetch) => this.ask({ type: 'object', ref, ...(refetch && { refetch }) }).then((reply) => (reply as { path: string }).path)));
  }

  /** Stores bytes as an object owned by the job `jobId` (the supervisor knows its queue). */
  async put(bytes: Buffer, kind: ObjectKind, jobId: string): Promise<Ref> {
    const dir = this.settings.cacheDir;
    if (dir === undefined) throw new ConfigError('This worker stores no objects (no object cache)');
    if (bytes.byteLength > this.settings.maxObjectBytes) throw new PayloadTooLargeError('object', bytes.byteLength, this.settings.maxObjectBytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await mkdir(dir, { recursive: true });
    await writeAtomically(join(dir, sha256), bytes);
    const reply = await this.ask({ type: 'object-put', sha256, size: bytes.byteLength, kind, jobId });
    return (reply as { ref: Ref }).ref;
  }

  /** Settles the request a reply answers. */
  onReply(reply: ObjectReply): void {
    const waiter = this.waiting.get(reply.requestId);
    if (!waiter) return;
    this.waiting.delete(reply.requestId);
    if (reply.type === 'object-failed') waiter.reject(new ObjectRequestError(reply.error));
    else waiter.resolve(reply);
  }

  private ask(request: DistributiveOmit<ObjectRequest, 'requestId'>): Promise<Extract<ObjectReply, { type: 'object-ready' | 'object-stored' }>> {
    const requestId = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(requestId, { resolve, reject });
      this.send({ ...request, requestId } as ObjectRequest);
    });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
