import type { JobOwner } from './objectAccess.ts';
import type { ObjectKind, Ref } from './objectRef.ts';

/**
 * How a task's context reads and stores objects by reference (`ctx.get`, `ctx.put`, the claim check of a big
 * output): the worker's own cache (`inline` tasks), or a sandbox's asks of its supervisor.
 */
export interface TaskObjects {
  get(ref: Ref): Promise<unknown>;
  /** Stores bytes as an object owned by the job `owner`. */
  put(bytes: Buffer, kind: ObjectKind, owner: JobOwner): Promise<Ref>;
  /** Outputs whose encoded JSON takes more bytes than this go by reference. */
  readonly inlineMaxBytes: number;
}
