import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnyTask } from '@taskpool/core';
import { dies, hangs, quick } from './fixtures/pipelineTasks.ts';
import { failedView } from './helpers/settle.ts';
import { useTestStack } from './helpers/useTestStack.ts';

// While tasks are short, each sandbox holds several runs (StartWorkerOptions.pipelineDepth): a fault then can't be
// blamed on one run, so every run the sandbox held runs again alone, where a fault is its own. These tests put
// one faulty job among hundreds of short ones and count what ran, from each run's line in a log.
const lines: { event?: string; runsHeld?: number }[] = [];
const sink = new Writable({ write: (line: Buffer, _encoding, done) => done(void lines.push(JSON.parse(line.toString()) as { event?: string })) });
const stack = useTestStack({ tasksModule: 'test/fixtures/pipelineTasks.ts', concurrency: 2, logger: pino({ level: 'info' }, sink) });
const dir = mkdtempSync(join(tmpdir(), 'tp-pipelined-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Submits `count` quick jobs with `faulty` in the middle; gives the quick results and the faulty job's handle. */
async function amongQuickOnes(faulty: AnyTask, log: string, count = 400) {
  const submit = (i: number) => stack.client.submit(quick, { i, log });
  const first = await Promise.all(Array.from({ length: count / 2 }, (_, i) => submit(i)));
  const bad = await stack.client.submit(faulty, { log });
  const second = await Promise.all(Array.from({ length: count / 2 }, (_, i) => submit(count / 2 + i)));
  const results = await Promise.all([...first, ...second].map((h) => h.result({ timeoutMs: 60_000 })));
  return { results, bad };
}

function executions(log: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(log, 'utf8').trim().split('\n')) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

describe('runs sent ahead to a sandbox', () => {
  it('a crash among them blames none: each runs again alone, the crashing job spends its own attempts', async () => {
    const log = join(dir, 'crash.log');
    lines.length = 0;
    const { results, bad } = await amongQuickOnes(dies, log);
    expect(results.map((r) => r.i)).toEqual(results.map((_, i) => i));
    const view = await failedView(bad);
    expect(view.attempts).toBe(2);
    expect(view.error).toMatchObject({ reason: 'exit', code: 'SANDBOX_CRASHED' });
    // The crash happened while its sandbox held several runs (else this test shows nothing).
    expect(lines.some((line) => line.event === 'sandbox:crash' && (line.runsHeld ?? 0) > 1)).toBe(true);
    const counts = executions(log);
    for (let i = 0; i < results.length; i++) expect(counts.get(String(i))).toBeGreaterThanOrEqual(1);
    // At least once: a run that had finished in a sandbox that then died runs again (counted, never hidden).
    const duplicates = [...counts].filter(([name]) => name !== 'dies').reduce((sum, [, n]) => sum + n - 1, 0);
    console.info(`crash among pipelined runs: ${duplicates} quick runs ran twice; the crashing job ran ${counts.get('dies')} times for 2 attempts`);
    expect(duplicates).toBeLessThanOrEqual(2 * 2 * 8);
    expect(counts.get('dies')).toBeGreaterThanOrEqual(2);
    expect(counts.get('dies')).toBeLessThanOrEqual(4);
  });

  it('a run that hangs among them times out alone: its own timeout fails it, the others complete', async () => {
    const log = join(dir, 'hang.log');
    lines.length = 0;
    const { results, bad } = await amongQuickOnes(hangs, log);
    expect(results.map((r) => r.i)).toEqual(results.map((_, i) => i));
    const view = await failedView(bad);
    expect(view.attempts).toBe(1);
    expect(view.error).toMatchObject({ reason: 'timeout', code: 'TASK_TIMEOUT' });
    const counts = executions(log);
    expect(counts.get('hangs')).toBeLessThanOrEqual(2);
    for (let i = 0; i < results.length; i++) expect(counts.get(String(i))).toBeGreaterThanOrEqual(1);
  });
});
