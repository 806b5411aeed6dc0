import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '@taskpool/core';
import { chatty, heapDeathLine } from './fixtures/crashTasks.ts';
import { failedView } from './helpers/settle.ts';
import { spawnWorker, type Service } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const services: Service[] = [];
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
});

describe("a handler's stdout and stderr", () => {
  it('reach the worker’s output as JSON log lines tagged with the job and task, never raw', async () => {
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    const worker = await spawnWorker({ redisUrl: redisUrl(), prefix, tasks: 'test/fixtures/crashTasks.ts', concurrency: 2 });
    services.push(worker);
    const handles = await Promise.all(['a', 'b', 'c'].map((mark) => client.submit(chatty, { mark })));
    await Promise.all(handles.map((h) => h.result({ timeoutMs: 20_000 })));
    for (const [i, mark] of ['a', 'b', 'c'].entries()) {
      const jobId = handles[i]!.id;
      const out = await worker.waitFor((line) => line.event === 'sandbox:stdout' && line.msg === `stdout line of ${mark}`, 10_000);
      expect(out).toMatchObject({ jobId, task: chatty.name, level: 30, sandboxPid: expect.any(Number) });
      const raw = await worker.waitFor((line) => line.event === 'sandbox:stdout' && line.msg === `raw {"not":"a log line"} ${mark}`, 10_000);
      expect(raw).toMatchObject({ jobId, task: chatty.name });
      const err = await worker.waitFor((line) => line.event === 'sandbox:stderr' && line.msg === `stderr line of ${mark}`, 10_000);
      expect(err).toMatchObject({ jobId, task: chatty.name, level: 40 });
    }
    // Every line of the worker's stdout is a pino line (a raw one would have no level), and nothing of the handler's went to stderr raw.
    expect(worker.lines.filter((line) => typeof line.level !== 'number')).toEqual([]);
    expect(worker.stderr.join('')).not.toMatch(/stdout line of|stderr line of|a log line/);
  });

  it('still give the stderr tail that classifies a crash', async () => {
    await using client = createClient({ redisUrl: redisUrl(), prefix: `${prefix}-tail` });
    const worker = await spawnWorker({ redisUrl: redisUrl(), prefix: `${prefix}-tail`, tasks: 'test/fixtures/crashTasks.ts', concurrency: 1 });
    services.push(worker);
    const handle = await client.submit(heapDeathLine, {}, { attempts: 1 });
    const view = await failedView(handle);
    expect(view.error).toMatchObject({ reason: 'oom', message: expect.stringMatching(/ran out of memory and exited with code 134/) });
    await worker.waitFor((line) => line.event === 'sandbox:stderr' && line.jobId === handle.id && /Reached heap limit/.test(String(line.msg)), 10_000);
  });
});
