import type { TaskHandle } from './taskHandle.ts';

/** Any handle, whatever its output. */
type AnyHandle = TaskHandle<unknown>;

/** When {@link waitHandles} returns (besides its timeout). */
export type ReturnWhen = 'all' | 'first-completed' | 'first-failed';

/** Options of `client.wait`. */
export interface WaitHandlesOptions {
  /**
   * `'all'` (default): when every task has finished; `'first-completed'`: when any has finished, succeeded
   * or failed; `'first-failed'`: when any has failed, or when all have finished (as Python's `FIRST_EXCEPTION`).
   */
  returnWhen?: ReturnWhen;
  /** Return after this long with what has finished by then (no error). Default: no limit. */
  timeoutMs?: number;
}

/** What `client.wait` returns: the handles whose task had finished, and the others, each in the order given. */
export interface WaitHandlesResult<H> {
  done: H[];
  pending: H[];
}

/**
 * Yields the handles as their tasks finish (succeeded or failed), fastest first; `await handle.result()`
 * on a yielded handle does not wait. Each handle is yielded once, duplicates included. Throws
 * `ClientClosedError` if the client closes first.
 */
export async function* asCompleted<H extends AnyHandle>(handles: Iterable<H>): AsyncGenerator<H, void, undefined> {
  const list = [...handles];
  const finished: H[] = [];
  let failure: unknown;
  let wake: (() => void) | undefined;
  for (const handle of list) {
    void handle.settled().then(
      () => {
        finished.push(handle);
        wake?.();
      },
      (error: unknown) => {
        failure ??= error;
        wake?.();
      },
    );
  }
  for (let yielded = 0; yielded < list.length; ) {
    if (failure !== undefined && finished.length === 0) throw failure;
    const handle = finished.shift();
    if (handle === undefined) {
      await new Promise<void>((resolve) => (wake = resolve));
      continue;
    }
    yielded++;
    yield handle;
  }
}

/**
 * Waits until the handles' tasks have finished, as `returnWhen` says, or until `timeoutMs`. Rejects with
 * `ClientClosedError` if the client closes first.
 */
export async function waitHandles<H extends AnyHandle>(handles: Iterable<H>, options: WaitHandlesOptions = {}): Promise<WaitHandlesResult<H>> {
  const list = [...handles];
  const returnWhen = options.returnWhen ?? 'all';
  const done = new Set<H>();
  const distinct = new Set(list).size;
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      // Let handles that finished in the same read (one pipeline) land too.
      setImmediate(resolve);
    };
    if (list.length === 0) return finish();
    if (options.timeoutMs !== undefined) timer = setTimeout(finish, options.timeoutMs);
    for (const handle of list) {
      void handle.settled().then(
        (outcome) => {
          done.add(handle);
          if (returnWhen === 'first-completed' || (returnWhen === 'first-failed' && !outcome.ok) || done.size === distinct) finish();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error as Error);
        },
      );
    }
  });
  return { done: list.filter((h) => done.has(h)), pending: list.filter((h) => !done.has(h)) };
}
