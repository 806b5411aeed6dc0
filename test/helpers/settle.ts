import type { JobView, TaskHandle } from '@taskpool/core';
import { expect } from 'vitest';

/** Waits for a handle to fail for good and returns its job view (state, attempts, error with its reason). */
export async function failedView(handle: TaskHandle<unknown>, timeoutMs = 30_000): Promise<JobView> {
  await expect(handle.result({ timeoutMs })).rejects.toBeDefined();
  const view = await handle.status();
  expect(view?.state).toBe('failed');
  return view!;
}
