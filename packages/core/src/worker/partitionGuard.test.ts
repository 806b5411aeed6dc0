import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CancelBook } from './cancelBook.ts';
import { PartitionGuard } from './partitionGuard.ts';

type Line = Record<string, unknown>;

/** A guard over a stand-in CancelBook holding `held`, with its log lines and the book's calls. */
function guardOver(held: string[]): { guard: PartitionGuard; lines: Line[]; dropped: string[]; probes: () => number } {
  const lines: Line[] = [];
  const dropped: string[] = [];
  const cancels = {
    dropAll: () => (dropped.push(...held), [...held]),
    drop: (jobId: string) => (dropped.push(jobId), held.includes(jobId)),
  } as unknown as CancelBook;
  const logger = pino({ level: 'debug' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
  const guard = new PartitionGuard({ lockDurationMs: 4_000, cancels, logger });
  let probes = 0;
  guard.start(() => probes++);
  return { guard, lines, dropped, probes: () => probes };
}
const events = (lines: Line[], event: string): Line[] => lines.filter((line) => line.event === event);

describe('PartitionGuard', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stays quiet while round trips succeed, probes past half the lock, and trips once past the whole lock', () => {
    const { guard, lines, dropped, probes } = guardOver(['7', '8']);
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(1_000);
      guard.contact();
    }
    expect(probes()).toBe(0);
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(3_000);
    expect(probes()).toBeGreaterThan(0);
    expect(guard.partitioned).toBe(false);
    vi.advanceTimersByTime(2_000);
    expect(guard.partitioned).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(events(lines, 'worker:partitioned')).toEqual([expect.objectContaining({ level: 50, lockDurationMs: 4_000, jobIds: ['7', '8'] })]);
    expect(dropped).toEqual(['7', '8']);
    guard.stop();
  });

  it('on reconnect reports each dropped job once as job:lock-lost (warn); later news of it is debug', () => {
    const { guard, lines } = guardOver(['7']);
    vi.advanceTimersByTime(6_000);
    guard.contact();
    expect(guard.partitioned).toBe(false);
    expect(events(lines, 'worker:reconnected')).toHaveLength(1);
    expect(guard.workerError(new Error('Missing lock for job 7. moveToFinished'))).toBe(true);
    expect(guard.workerError(new Error('could not renew lock for job 7'))).toBe(true);
    expect(guard.workerError(new Error('Job 7 is not in the active state. moveToFinished'))).toBe(true);
    const lost = events(lines, 'job:lock-lost');
    expect(lost.filter((line) => line.level === 40)).toEqual([expect.objectContaining({ jobId: '7', via: 'partition' })]);
    expect(lost.filter((line) => line.level === 20)).toHaveLength(3);
    guard.stop();
  });

  it("turns BullMQ's lost-lock errors into one warning per job, stops the job, and leaves other errors to the caller", () => {
    const { guard, lines, dropped } = guardOver(['a.b:1']);
    expect(guard.workerError(new Error('Lock mismatch for job a.b:1. Cmd moveToFinished from active'))).toBe(true);
    expect(guard.workerError(new Error('Missing lock for job a.b:1. moveToFinished'))).toBe(true);
    expect(dropped).toEqual(['a.b:1', 'a.b:1']);
    expect(events(lines, 'job:lock-lost').filter((line) => line.level === 40)).toEqual([expect.objectContaining({ jobId: 'a.b:1', via: 'redis', stopped: true })]);
    // A job never known lost: a missing key is not taken for a lost lock.
    expect(guard.workerError(new Error('Missing key for job 9. moveToFinished'))).toBe(false);
    expect(guard.workerError(new Error('ERR something else'))).toBe(false);
    // Command timeouts: a warning, at most one per 10 s.
    expect(guard.workerError(new Error('Command timed out'))).toBe(true);
    expect(guard.workerError(new Error('Command timed out'))).toBe(true);
    expect(events(lines, 'worker:redis-timeout')).toHaveLength(1);
    guard.stop();
  });

  it('logs connection errors (one per reconnection attempt while Redis is away) as one warning per 10 s', () => {
    const { guard, lines } = guardOver([]);
    const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 5; i++) expect(guard.workerError(refused())).toBe(true);
    expect(events(lines, 'worker:redis-unreachable')).toEqual([expect.objectContaining({ level: 40 })]);
    vi.advanceTimersByTime(10_000);
    guard.contact();
    expect(guard.workerError(refused())).toBe(true);
    expect(events(lines, 'worker:redis-unreachable')).toHaveLength(2);
    guard.stop();
  });
});
