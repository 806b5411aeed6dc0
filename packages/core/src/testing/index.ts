/**
 * Test helpers for users of taskpool (as Oban ships `Oban.Testing`): a real worker on a real Redis,
 * started in-process and disposed with `await using`. Free of any test runner: wrap them in your runner's
 * hooks (`beforeAll` / `afterAll`) or use them inside one test.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type ClientOptions, type TaskpoolClient } from '../client/createClient.ts';
import { createLogger } from '../logger.ts';
import { startWorker, type StartWorkerOptions, type TaskpoolWorker } from '../worker/startWorker.ts';
import { loadTestingEnv } from './env.ts';

/** Options of {@link startTestWorker}: those of `startWorker`, with a silent logger and one sandbox by default. */
export type TestWorkerOptions = Omit<StartWorkerOptions, 'logger' | 'concurrency'> & Partial<Pick<StartWorkerOptions, 'logger' | 'concurrency'>>;

/**
 * Starts a worker for a test: one sandbox process and no log output unless given; the `fetch` mode is
 * `TASKPOOL_FETCH`'s when the options name none (see `testing/env.ts`).
 */
export function startTestWorker(options: TestWorkerOptions): Promise<TaskpoolWorker> {
  const fetch = loadTestingEnv().TASKPOOL_FETCH;
  return startWorker({ concurrency: 1, logger: createLogger({ level: 'silent' }), ...(fetch !== undefined && { fetch }), ...options });
}

/** The `fetch` mode the helpers give a worker whose options name none: `TASKPOOL_FETCH`'s, else `'supervisor'`. */
export function testFetchMode(): 'supervisor' | 'sandbox' {
  return loadTestingEnv().TASKPOOL_FETCH ?? 'supervisor';
}

/** Creates a client for a test; `await using client = createTestClient(...)` closes it. */
export function createTestClient(options: ClientOptions): TaskpoolClient {
  return createClient(options);
}

/** What a test stack's clients take besides the Redis URL and prefix, which are the stack's. */
export type TestClientOptions = Omit<ClientOptions, 'redisUrl' | 'prefix'>;

/** Options of {@link startTestStack}: the worker's (see {@link TestWorkerOptions}), plus the client's. */
export interface TestStackOptions extends TestWorkerOptions {
  /**
   * BullMQ key prefix of the worker and every client of the stack. Default: a fresh `taskpool-test-<6 hex>`,
   * so that stacks (and test files running in parallel) never see each other's jobs.
   */
  prefix?: string;
  /** Options of the stack's `client`, e.g. `{ errors: [MyError] }`. Default: none. */
  client?: TestClientOptions;
}

/** A client and an in-process worker over one Redis and key prefix, closed together. */
export interface TestStack extends AsyncDisposable {
  /** Submits to the worker of the stack. */
  readonly client: TaskpoolClient;
  readonly worker: TaskpoolWorker;
  /** The key prefix of the worker and the clients. */
  readonly prefix: string;
  /** Another client of the same Redis and prefix (what a second process sees), closed with the stack. */
  createClient(options?: TestClientOptions): TaskpoolClient;
  /** Closes every client of the stack, then the worker (running tasks get its `shutdownGraceMs`). Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a worker (one sandbox and a silent logger unless given, as {@link startTestWorker}) and a client on
 * the same prefix: the usual fixture of a test that submits tasks and awaits their results.
 *
 * ```ts
 * await using stack = await startTestStack({ redisUrl, tasksModule: 'src/tasks.ts', concurrency: 2 });
 * const handle = await stack.client.submit(resizeImage, { url, width: 300 });
 * ```
 */
export async function startTestStack(options: TestStackOptions): Promise<TestStack> {
  const { client: clientOptions, ...workerOptions } = options;
  const prefix = options.prefix ?? `taskpool-test-${randomBytes(3).toString('hex')}`;
  const worker = await startTestWorker({ ...workerOptions, prefix });
  const clients: TaskpoolClient[] = [];
  const newClient = (more: TestClientOptions = {}): TaskpoolClient => {
    const client = createClient({ ...more, redisUrl: options.redisUrl, prefix });
    clients.push(client);
    return client;
  };
  const client = newClient(clientOptions);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await Promise.all(clients.map((c) => c.close()));
      await worker.close();
    })());
  return { client, worker, prefix, createClient: newClient, close, [Symbol.asyncDispose]: close };
}
