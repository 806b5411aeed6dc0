/**
 * Test helpers for users of taskpool (as Oban ships `Oban.Testing`): a real worker on a real Redis,
 * started in-process and disposed with `await using`.
 */
import { createClient, type ClientOptions, type TaskpoolClient } from '../client/createClient.ts';
import { createLogger } from '../logger.ts';
import { startWorker, type StartWorkerOptions, type TaskpoolWorker } from '../worker/startWorker.ts';

/** Options of {@link startTestWorker}: those of `startWorker`, with a silent logger and one sandbox by default. */
export type TestWorkerOptions = Omit<StartWorkerOptions, 'logger' | 'concurrency'> & Partial<Pick<StartWorkerOptions, 'logger' | 'concurrency'>>;

/** Starts a worker for a test: one sandbox process and no log output unless given. */
export function startTestWorker(options: TestWorkerOptions): Promise<TaskpoolWorker> {
  return startWorker({ concurrency: 1, logger: createLogger({ level: 'silent' }), ...options });
}

/** Creates a client for a test; `await using client = createTestClient(...)` closes it. */
export function createTestClient(options: ClientOptions): TaskpoolClient {
  return createClient(options);
}
