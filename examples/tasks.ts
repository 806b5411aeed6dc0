/**
 * Example task module: `taskpool-worker --tasks examples/tasks.ts` serves every task exported here,
 * and `taskpool-producer --tasks examples/tasks.ts` accepts them over HTTP.
 */
import { defineTask } from '@taskpool/core/task';
import { z } from 'zod';

/** CPU-bound: the sum of the square roots of 0..n-1, and which process computed it. */
export const sumSqrt = defineTask({
  name: 'math.sumSqrt',
  input: z.object({ n: z.number().int().positive() }),
  output: z.object({ sum: z.number(), pid: z.number() }),
  defaults: { attempts: 3 },
  run: async ({ n }) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.sqrt(i);
    return { sum: s, pid: process.pid };
  },
});

/** CPU-bound without allocation: how many primes are below `limit` (trial division). */
export const countPrimes = defineTask({
  name: 'math.countPrimes',
  input: z.object({ limit: z.number().int().min(2).max(50_000_000) }),
  output: z.object({ count: z.number().int(), pid: z.number() }),
  run: ({ limit }) => ({ count: countPrimesBelow(limit), pid: process.pid }),
});

/** Fan-in: the total of many `countPrimes` results, e.g. a chord's callback. */
export const totalPrimes = defineTask({
  name: 'math.totalPrimes',
  input: z.array(z.object({ count: z.number().int(), pid: z.number() })),
  output: z.object({ total: z.number().int(), processes: z.number().int() }),
  run: (counts) => ({ total: counts.reduce((sum, { count }) => sum + count, 0), processes: new Set(counts.map(({ pid }) => pid)).size }),
});

/** Counts the primes below `limit`; exported for the serial baseline of the speedup example. */
export function countPrimesBelow(limit: number): number {
  let count = 0;
  for (let n = 2; n < limit; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

/** I/O-shaped: greets after a short wait (`name: ''` is rejected at submit, 400: it never becomes a job). */
export const greet = defineTask({
  name: 'hello.greet',
  input: z.object({ name: z.string().min(1), delayMs: z.number().int().min(0).max(10_000).default(0) }),
  output: z.object({ greeting: z.string() }),
  run: async ({ name, delayMs }, { signal }) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    signal.throwIfAborted();
    return { greeting: `Hello, ${name}!` };
  },
});

/** Thrown by `hello.fail`: a remote error with a code and a field of its own, as the dashboard shows them. */
export class GreetingRefusedError extends Error {
  override name = 'GreetingRefusedError';
  readonly code = 'GREETING_REFUSED';
  readonly person: string;
  constructor(person: string) {
    super(`Refusing to greet ${person}`);
    this.person = person;
  }
}

/**
 * Fails at run time, every attempt: a valid input that the handler rejects. Submit it to try the dashboard's
 * failure views, retry and `taskpool status`: `{ "name": "Bob" }` fails after its 2 attempts.
 */
export const fail = defineTask({
  name: 'hello.fail',
  input: z.object({ name: z.string().min(1) }),
  output: z.object({ greeting: z.string() }),
  defaults: { attempts: 2, backoff: { type: 'fixed', delayMs: 500 } },
  run: ({ name }) => {
    throw new GreetingRefusedError(name);
  },
});
