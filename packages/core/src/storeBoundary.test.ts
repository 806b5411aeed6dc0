import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every Redis command taskpool sends itself (not through BullMQ's API) lives in `packages/core/src/store/`:
// the one layer that knows keys, fields, scripts and BullMQ's structures. A command called on a connection,
// a pipeline or a MULTI anywhere else fails this test.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SOURCES = ['packages/core/src', 'apps/producer/src', 'apps/worker/src'];
const COMMANDS = [
  'set', 'get', 'del', 'exists', 'expire', 'type', 'scan', 'eval', 'evalsha',
  'hget', 'hmget', 'hset', 'hdel', 'hgetall', 'hincrby', 'hexists',
  'sadd', 'srem', 'smembers', 'zadd', 'zrem', 'zscore', 'zrange', 'zcard', 'zcount',
  'lrange', 'llen', 'xadd', 'xread', 'xrange', 'xlen', 'publish', 'pipeline', 'multi',
];
const CALL = new RegExp(`\\b(?:redis|pipeline|multi|batch|connection)\\.(?:${COMMANDS.join('|')})\\(`);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'store' ? [] : sources(path);
    return /\.ts$/.test(entry.name) && !/\.test(-d)?\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** `file:line: text` of every Redis command sent outside the store layer. */
export function commandsOutsideStore(): string[] {
  return SOURCES.flatMap((dir) => sources(join(ROOT, dir))).flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) => (CALL.test(line) ? [`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`] : [])),
  );
}

describe('the store layer', () => {
  it('finds a command where there is one (sanity)', () => {
    expect(CALL.test('const x = await redis.hget(key, field);')).toBe(true);
    expect(CALL.test('for (const k of keys) pipeline.publish(channel, k);')).toBe(true);
    expect(CALL.test('this.limits.set(queue, limit);')).toBe(false);
  });

  it('holds every Redis command taskpool sends itself', () => {
    expect(commandsOutsideStore()).toEqual([]);
  });
});
