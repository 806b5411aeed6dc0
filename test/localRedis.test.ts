import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LocalRedis } from '../scripts/localRedis.ts';
import { findRedisServer, startLocalRedis } from '../scripts/localRedis.ts';
import { connectRedis } from './helpers/testRedis.ts';

/** True while a process with this pid exists (signal 0 only checks). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The AOF files of a data dir: Redis 7 keeps them in `appendonlydir/`, Redis 6 in `appendonly.aof`. */
async function aofFiles(dir: string): Promise<string[]> {
  if (existsSync(join(dir, 'appendonly.aof'))) return [join(dir, 'appendonly.aof')];
  const aofDir = join(dir, 'appendonlydir');
  if (!existsSync(aofDir)) return [];
  return (await readdir(aofDir)).map((name) => join(aofDir, name));
}

describe.skipIf(findRedisServer() === undefined)('startLocalRedis', () => {
  let root: string;
  const started: LocalRedis[] = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'taskpool-local-redis-'));
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((redis) => redis.stop()));
    await rm(root, { recursive: true, force: true });
  });

  async function start(name: string, appendOnly = false, port?: number): Promise<LocalRedis> {
    const redis = await startLocalRedis({ dir: join(root, name), appendOnly, port });
    started.push(redis);
    return redis;
  }

  it('runs two servers side by side, AOF on one, and stops both', async () => {
    const [plain, aof] = await Promise.all([start('plain'), start('aof', true)]);
    expect(plain.port).not.toBe(aof.port);
    expect([plain.port, aof.port]).not.toContain(6379);
    expect(plain.url).toBe(`redis://127.0.0.1:${plain.port}`);

    for (const redis of [plain, aof]) {
      await using client = await connectRedis(redis.url);
      expect(await client.ping()).toBe('PONG');
      await client.set('tp-local-redis:key', redis.dir);
      expect(await client.get('tp-local-redis:key')).toBe(redis.dir);
    }

    await Promise.all([plain.stop(), aof.stop()]);
    expect(isRunning(plain.pid)).toBe(false);
    expect(isRunning(aof.pid)).toBe(false);

    const aofContents = await Promise.all((await aofFiles(aof.dir)).map((file) => readFile(file, 'latin1')));
    expect(aofContents.join('')).toContain('tp-local-redis:key');
    expect(await aofFiles(plain.dir)).toEqual([]);
    expect(existsSync(join(plain.dir, 'dump.rdb'))).toBe(false);
  });

  it('keeps AOF data across a restart in the same dir', async () => {
    const first = await start('aof', true);
    {
      await using client = await connectRedis(first.url);
      await client.set('tp-local-redis:kept', 'yes');
    }
    await first.stop();

    const second = await start('aof', true);
    await using client = await connectRedis(second.url);
    expect(await client.get('tp-local-redis:kept')).toBe('yes');
  });

  it('lets stop() be called twice, in turn and at once', async () => {
    const redis = await start('twice');
    await Promise.all([redis.stop(), redis.stop()]);
    await redis.stop();
    expect(isRunning(redis.pid)).toBe(false);
  });

  it('says so when the port is taken', async () => {
    const first = await start('first');
    await expect(start('second', false, first.port)).rejects.toThrow(`Port ${first.port} on 127.0.0.1 is already in use`);
    await using client = await connectRedis(first.url);
    expect(await client.ping()).toBe('PONG');
  });

  it('fails with the log tail when redis-server cannot start', async () => {
    await expect(startLocalRedis({ dir: join(root, 'missing'), redisServerPath: join(root, 'no-such-redis-server') })).rejects.toThrow(
      /could not be started[\s\S]*ENOENT/,
    );
  });
});
