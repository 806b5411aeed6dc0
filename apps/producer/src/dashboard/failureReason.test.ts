import { describe, expect, it } from 'vitest';
import { describeFailureReason } from './failureReason.ts';
import { jobsFragment } from './jobsFragment.ts';
import { overviewFragment } from './overviewFragment.ts';

const hour = { completed: 0, failed: 0, throughputPerMinute: 0, failuresByReason: {}, series: [] };
const counts = { waiting: 0, active: 0, delayed: 0, prioritized: 0, failed: 3 };

describe('failure reasons on the dashboard', () => {
  it('tell an outside kill and a dead worker host apart from the handler’s own crash', () => {
    const killed = describeFailureReason('killed');
    const stalled = describeFailureReason('stalled');
    const signal = describeFailureReason('signal');
    expect(new Set([killed, stalled, signal]).size).toBe(3);
    expect(killed).toMatch(/from outside.*OOM killer or an operator/);
    expect(stalled).toMatch(/worker died, froze or was cut off/);
    expect(describeFailureReason('something new')).toBe(describeFailureReason('unknown'));
  });

  it('shows each reason group with what it means, in the failures-by-reason view', () => {
    const failures = (['killed', 'stalled', 'signal'] as const).map((reason) => ({ reason, count: 1, message: `a ${reason} failure` }));
    const text = overviewFragment({ generatedAt: 0, prefix: 'p', queues: [], tasks: [{ name: 't', queue: 'q', counts, failures, lastHour: hour }], workers: [], objects: { redis: { objects: 0, bytes: 0 }, ownedByJobs: 0 } }).text;
    for (const reason of ['killed', 'stalled', 'signal']) {
      expect(text).toContain(`<span class="badge reason-${reason}"`);
      expect(text).toContain(`<td class="muted">${describeFailureReason(reason)}</td>`);
    }
  });

  it('shows a job’s reason and code in the job view', () => {
    const error = { name: 'SandboxCrashError', message: 'killed from outside', code: 'KILLED_EXTERNALLY', reason: 'killed' as const };
    const text = jobsFragment({ jobs: [{ id: '1', task: 't', queue: 'q', state: 'failed', attempts: 1, createdAt: 0, error }], truncated: false }).text;
    expect(text).toContain('<span class="badge reason-killed"');
    expect(text).toContain('<code class="error-code">KILLED_EXTERNALLY</code>');
  });
});
