import { describe, expect, it } from 'vitest';
import { overStallBudget, type StallCount } from './stalledFailure.ts';

const job = (stalledCounter: number, attemptsMade: number, attempts?: number): StallCount =>
  ({ stalledCounter, attemptsMade, opts: attempts === undefined ? {} : { attempts } }) as StallCount;

describe('overStallBudget', () => {
  it('lets every job stall maxStalls times, even with one attempt', () => {
    expect(overStallBudget(job(0, 0), 2)).toBe(false);
    expect(overStallBudget(job(2, 0), 2)).toBe(false);
    expect(overStallBudget(job(3, 0), 2)).toBe(true);
    expect(overStallBudget(job(1, 0, 1), 0)).toBe(true);
  });

  it('counts stalls against the attempts beyond that', () => {
    // attempts 5: stalls and failed attempts together may reach 4 before the fifth run.
    expect(overStallBudget(job(4, 0, 5), 2)).toBe(false);
    expect(overStallBudget(job(5, 0, 5), 2)).toBe(true);
    expect(overStallBudget(job(3, 1, 5), 2)).toBe(false);
    expect(overStallBudget(job(3, 2, 5), 2)).toBe(true);
  });
});
