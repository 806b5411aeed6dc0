import { describe, expect, it } from 'vitest';
import { idempotentJobId, jobOptions } from './jobOptions.ts';

const keep = { completedSeconds: 60, failedSeconds: 600 };

describe('jobOptions', () => {
  it('takes the submit options over the task defaults over taskpool defaults', () => {
    expect(jobOptions({}, {}, keep)).toEqual({ attempts: 1, removeOnComplete: { age: 60 }, removeOnFail: { age: 600 } });
    expect(jobOptions({ attempts: 3 }, {}, keep)).toMatchObject({ attempts: 3, backoff: { type: 'exponential', delay: 1_000 } });
    const defaults = { attempts: 3, priority: 5, timeoutMs: 9_000, backoff: { type: 'fixed' as const, delayMs: 10 } };
    expect(jobOptions(defaults, { attempts: 2, delayMs: 50 }, keep)).toMatchObject({ attempts: 2, priority: 5, delay: 50, backoff: { type: 'fixed', delay: 10 } });
  });

  it('writes a per-submit timeoutMs only (the worker reads the task default itself)', () => {
    expect(jobOptions({ timeoutMs: 9_000 }, {}, keep)).not.toHaveProperty('timeoutMs');
    expect(jobOptions({ timeoutMs: 9_000 }, { timeoutMs: 500 }, keep)).toMatchObject({ timeoutMs: 500 });
  });
});

describe('idempotentJobId', () => {
  it('is stable, UUID-shaped (version 8), and differs by task and key', () => {
    // Frozen: the HTTP API derives the same id from the same Idempotency-Key.
    expect(idempotentJobId('math.sumSqrt', 'order-42')).toBe('05b8323e-8524-8a1c-b454-4f9e12777188');
    expect(idempotentJobId('math.sumSqrt', 'order-42')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(idempotentJobId('math.other', 'order-42')).not.toBe(idempotentJobId('math.sumSqrt', 'order-42'));
    expect(idempotentJobId('math.sumSqrt', 'order-43')).not.toBe(idempotentJobId('math.sumSqrt', 'order-42'));
  });
});
