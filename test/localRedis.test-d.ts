import { describe, expectTypeOf, it } from 'vitest';
import type { LocalRedis, StartLocalRedisOptions } from '../scripts/localRedis.ts';
import { findRedisServer, startLocalRedis } from '../scripts/localRedis.ts';
import type { TestRedisClient } from './helpers/testRedis.ts';
import { connectRedis, countKeys, redisUrl, testPrefix } from './helpers/testRedis.ts';

describe('startLocalRedis types', () => {
  it('takes options with a required dir and gives a LocalRedis', () => {
    expectTypeOf(startLocalRedis).parameter(0).toEqualTypeOf<StartLocalRedisOptions>();
    expectTypeOf(startLocalRedis).returns.resolves.toEqualTypeOf<LocalRedis>();
    expectTypeOf(findRedisServer).returns.toEqualTypeOf<string | undefined>();
    // @ts-expect-error dir is required
    expectTypeOf(startLocalRedis).toBeCallableWith({ port: 7000 });
  });
});

describe('test Redis helpers types', () => {
  it('gives a client that `await using` can close', () => {
    expectTypeOf(connectRedis).returns.resolves.toEqualTypeOf<TestRedisClient>();
    expectTypeOf<TestRedisClient>().toExtend<AsyncDisposable>();
    expectTypeOf(countKeys).returns.resolves.toBeNumber();
    expectTypeOf(redisUrl).returns.toBeString();
    expectTypeOf(testPrefix).parameters.toEqualTypeOf<[fileUrl: string]>();
  });
});
