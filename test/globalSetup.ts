import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findRedisServer, startLocalRedis } from '../scripts/localRedis.ts';
import type {} from './helpers/redisContext.ts';

/** How long the cheap "is a Docker engine there?" check may take. */
const DOCKER_CHECK_TIMEOUT_MS = 5_000;

type Teardown = () => Promise<void>;

/**
 * Finds or starts the one Redis of the test run and provides its URL as `redisUrl`:
 * `REDIS_URL` if set (never port 6379), else a local redis-server in a temp dir,
 * else a `redis:7-alpine` container when a Docker engine answers.
 */
export default async function setup(project: TestProject): Promise<Teardown> {
  const { url, teardown } = await resolveRedis();
  project.provide('redisUrl', url);
  return teardown;
}

async function resolveRedis(): Promise<{ url: string; teardown: Teardown }> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    assertNotDefaultPort(fromEnv);
    return { url: fromEnv, teardown: async () => {} };
  }

  if (findRedisServer() !== undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'taskpool-test-redis-'));
    const redis = await startLocalRedis({ dir });
    return {
      url: redis.url,
      teardown: async () => {
        await redis.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  if (await dockerAnswers()) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine')
      .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .start();
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      teardown: async () => {
        await container.stop();
      },
    };
  }

  throw new Error(
    'The tests need Redis: install redis-server (e.g. `apt-get install -y redis-server`), start Docker, or set REDIS_URL to a Redis that is not on port 6379.',
  );
}

function assertNotDefaultPort(url: string): void {
  let port: string;
  try {
    port = new URL(url).port;
  } catch (cause) {
    throw new Error(`REDIS_URL is not a valid URL: ${JSON.stringify(url)}`, { cause });
  }
  // An empty port means the scheme's default, which for redis:// and rediss:// is 6379.
  if (port === '' || port === '6379') {
    throw new Error(
      `REDIS_URL (${url}) points at port 6379, and tests never use 6379 because they may touch a real Redis's data; use a Redis on another port or unset REDIS_URL.`,
    );
  }
}

/** True when testcontainers finds a Docker (or Podman) engine within a few seconds. */
async function dockerAnswers(): Promise<boolean> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), DOCKER_CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([getContainerRuntimeClient().then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
