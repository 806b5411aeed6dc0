import { afterAll, beforeAll } from 'vitest';

/**
 * Starts a fixture in `beforeAll` and disposes of it in `afterAll`, for the whole test file (or the `describe`
 * it is called in), and returns a stand-in for it: its properties read through to the started fixture, so use
 * them inside tests and hooks. Reading one before `beforeAll` has run (at module load) or after `afterAll`
 * throws, but for those given in `known`, which are there from the start.
 *
 * @param start - Starts the fixture; called once, in `beforeAll`.
 * @param known - Properties known before the fixture starts, such as its key prefix. Default: none.
 */
export function useFixture<T extends AsyncDisposable>(start: () => Promise<T>, known: Partial<T> = {}): T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    const fixture = started;
    started = undefined;
    await fixture?.[Symbol.asyncDispose]();
  });
  return new Proxy(known as T, {
    get(early, key) {
      if (started) return Reflect.get(started, key);
      // Not a thenable: `await` and promise resolution look for `then`.
      if (key in early || key === 'then') return Reflect.get(early, key);
      throw new Error(`useFixture: ${String(key)} was read outside the fixture's life; read it inside a test or hook`);
    },
  });
}
