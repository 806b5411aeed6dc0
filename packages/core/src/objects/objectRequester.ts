import type { SerializedError } from '../serializeError.ts';
import { decodeObject, readCachedBytes, type Ref } from './objectRef.ts';

/** What a sandbox asks its supervisor for, and what it is told. */
export type ObjectRequest = { type: 'object'; requestId: number; ref: Ref; refetch?: boolean };
export type ObjectReply = { type: 'object-ready'; requestId: number; path: string } | { type: 'object-failed'; requestId: number; error: SerializedError };

/** An error as a sandbox rebuilds it from its supervisor's answer: its name, code and message kept. */
class ObjectRequestError extends Error {
  constructor(readonly serialized: SerializedError) {
    super(serialized.message);
    this.name = serialized.name;
    Object.assign(this, serialized.code !== undefined && { code: serialized.code });
  }
}

/**
 * A sandbox's `ctx.get(ref)`: asks the supervisor for the object (the supervisor fetches it once per machine into
 * the shared cache, `worker/objectCache.ts`) and reads the local file it names. The sandbox checks the bytes
 * itself; bytes that do not match are asked for again with `refetch`, never used (see `readCachedBytes`).
 */
export class ObjectRequester {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (path: string) => void; reject: (error: Error) => void }>();

  constructor(private readonly send: (request: ObjectRequest) => void) {}

  async get(ref: Ref): Promise<unknown> {
    return decodeObject(await readCachedBytes(ref, (refetch) => this.ask(ref, refetch)), ref.kind);
  }

  /** Settles the request a reply answers. */
  onReply(reply: ObjectReply): void {
    const waiter = this.waiting.get(reply.requestId);
    if (!waiter) return;
    this.waiting.delete(reply.requestId);
    if (reply.type === 'object-ready') waiter.resolve(reply.path);
    else waiter.reject(new ObjectRequestError(reply.error));
  }

  private ask(ref: Ref, refetch: boolean): Promise<string> {
    const requestId = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(requestId, { resolve, reject });
      this.send({ type: 'object', requestId, ref, ...(refetch && { refetch }) });
    });
  }
}
