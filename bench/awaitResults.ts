import { ValidationError, type TaskHandle } from '@taskpool/core';

/** The outputs of some handles, and how many `result()` calls had to be repeated. */
export interface AwaitedResults<Out> {
  outputs: Out[];
  /** `result()` calls that rejected with INVALID_OUTPUT for a job that had completed (see BENCHMARKS.md). */
  staleResults: number;
}

/**
 * Awaits every handle. A core bug makes `result()` reject now and then with INVALID_OUTPUT (a `null` output)
 * for a job that completed between two reads of the client's periodic check; the benchmarks ask once more,
 * count it, and report the count, rather than fail a timing run or hide it.
 */
export async function awaitResults<Out>(handles: TaskHandle<Out>[], timeoutMs: number): Promise<AwaitedResults<Out>> {
  let staleResults = 0;
  const outputs = await Promise.all(
    handles.map((handle) =>
      handle.result({ timeoutMs }).catch((error: unknown) => {
        if (!(error instanceof ValidationError && error.code === 'INVALID_OUTPUT')) throw error;
        staleResults++;
        return handle.result({ timeoutMs });
      }),
    ),
  );
  return { outputs, staleResults };
}
