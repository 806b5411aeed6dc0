import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const HEAVY = /node_modules\/(bullmq|ioredis|pino)\//;

/** The module loads Node reports (NODE_DEBUG=module) when a fresh process imports `modules` (paths from here). */
function moduleLoads(modules: string[]): string[] {
  const script = modules.map((m) => `await import(${JSON.stringify(fileURLToPath(new URL(m, import.meta.url)))});`).join('\n');
  // `env` adds NODE_DEBUG to the inherited environment.
  const child = spawnSync('env', ['NODE_DEBUG=module', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(child.status, child.stderr.slice(-2_000)).toBe(0);
  return child.stderr.split('\n');
}

describe('the light entry @taskpool/core/task', () => {
  it('and what a sandbox runs load no BullMQ, ioredis or pino', { timeout: 30_000 }, () => {
    const light = moduleLoads(['./task.ts', './worker/runTask.ts', './loadTaskModule.ts', './worker/inlineExecutor.ts']);
    expect(light.filter((line) => HEAVY.test(line))).toEqual([]);
    // The check can fail: the barrel loads them.
    expect(moduleLoads(['./index.ts']).some((line) => HEAVY.test(line))).toBe(true);
  });
});
