import { describe, expect, it } from 'vitest';
import { AUTH } from './helpers/testToken.ts';
import { eventually } from './helpers/spawnService.ts';
import { useSpawnedStack } from './helpers/spawnStack.ts';

const stack = useSpawnedStack({ tasks: 'test/fixtures/tasks.ts', workers: 2, concurrency: 2 });

function expectedSum(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.sqrt(i);
  return s;
}

describe('producer HTTP + 2 worker processes + Redis', () => {
  it('runs 200 CPU-bound tasks with correct sums on both workers and more than one sandbox', async () => {
    const inputs = Array.from({ length: 200 }, (_, i) => 200_000 + i * 1_000);
    const ids = await Promise.all(
      inputs.map(async (n) => {
        const res = await fetch(`${stack.url}/v1/tasks/test.sumSqrt`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...AUTH },
          body: JSON.stringify({ n }),
        });
        expect(res.status).toBe(202);
        return ((await res.json()) as { id: string }).id;
      }),
    );
    expect(new Set(ids).size).toBe(200);

    const results = new Map<string, { sum: number; pid: number; ppid: number }>();
    await eventually(
      async () => {
        const pending = ids.filter((id) => !results.has(id));
        await Promise.all(
          pending.map(async (id) => {
            const res = await fetch(`${stack.url}/v1/jobs/${id}`, { headers: AUTH });
            const body = (await res.json()) as { state: string; result?: { sum: number; pid: number; ppid: number } };
            expect(body.state).not.toBe('failed');
            if (body.state === 'completed' && body.result) results.set(id, body.result);
          }),
        );
        return results.size === ids.length;
      },
      'all 200 jobs completed',
      120_000,
      200,
    );

    ids.forEach((id, i) => expect(results.get(id)!.sum).toBe(expectedSum(inputs[i]!)));
    const ppids = new Set([...results.values()].map((r) => r.ppid));
    const pids = new Set([...results.values()].map((r) => r.pid));
    expect([...ppids].sort()).toEqual(stack.workers.map((w) => w.pid).sort());
    expect(pids.size).toBeGreaterThan(1);
    for (const pid of pids) expect(stack.workers.flatMap((w) => w.sandboxPids)).toContain(pid);
  });
});
