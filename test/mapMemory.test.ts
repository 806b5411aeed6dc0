import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { startTestWorker } from '@taskpool/core/testing';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';
import { useFixture } from './helpers/useFixture.ts';

const prefix = testPrefix(import.meta.url);
// The client runs in a process of its own (the probe), to measure its heap alone.
useFixture(() => startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/mapTasks.ts', concurrency: 2 }));

const ITEMS = 1_000_000;
const CHUNK = 1_000;
const WINDOW = 8;
/**
 * The client's heap may grow by at most this over the map: room for `WINDOW × CHUNK` = 8,000 inputs and
 * results in flight (under 1 MiB as objects) and the JSON of a few chunk results, with headroom for V8; with
 * `chunkSize: 'auto'`, 8 chunks of up to 8,192 items (measured: +5.4 MiB).
 * Holding the 1,000,000 inputs alone takes several times more (the probe measures it and we check that too).
 */
const HEAP_GROWTH_BOUND = 8 * 1024 * 1024;

interface ProbeReport {
  count: number;
  odd: number;
  inOrder: boolean;
  ms: number;
  baseline: number;
  peak: number;
  heldBytes: number;
}

/** Runs the probe with these map options, in a process of its own. */
async function probe(chunk: string, window: string): Promise<ProbeReport> {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const child = spawn(process.execPath, ['--expose-gc', '--import', tsx, 'test/fixtures/mapMemoryProbe.ts'], {
    env: { ...process.env, REDIS_URL: redisUrl(), PREFIX: prefix, ITEMS: String(ITEMS), CHUNK: chunk, WINDOW: window },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(code, stderr).toBe(0);
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as ProbeReport;
  console.log(
    `chunkSize ${chunk}: 1,000,000 items in ${report.ms} ms; heap ${(report.baseline / 2 ** 20).toFixed(1)} MiB before, ` +
      `peak +${((report.peak - report.baseline) / 2 ** 20).toFixed(1)} MiB; holding the inputs would take ${(report.heldBytes / 2 ** 20).toFixed(1)} MiB`,
  );
  return report;
}

describe('a map over 1,000,000 lazily generated inputs', () => {
  it.each([
    [String(CHUNK), String(WINDOW)],
    // The defaults: chunks sized by measurement, the window following the size.
    ['auto', ''],
  ])('completes, in order, with the client heap flat (a separate process measures it after GC): chunkSize %s', async (chunk, window) => {
    const report = await probe(chunk, window);
    expect(report.count).toBe(ITEMS);
    expect(report.odd).toBe(ITEMS / 2);
    expect(report.inOrder).toBe(true);
    expect(report.peak - report.baseline).toBeLessThan(HEAP_GROWTH_BOUND);
    expect(report.peak - report.baseline).toBeLessThan(report.heldBytes);
  });
});
