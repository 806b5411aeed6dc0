import { describe, expect, it } from 'vitest';
import { baseEnvSchema, parseEnv } from './envSchema.ts';
import { ConfigError } from './errors.ts';

describe('parseEnv', () => {
  it('applies defaults and treats empty strings as unset', () => {
    expect(parseEnv(baseEnvSchema, { REDIS_URL: '', UNRELATED: 'x' })).toEqual({
      REDIS_URL: 'redis://127.0.0.1:6379',
      TASKPOOL_PREFIX: 'taskpool',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'auto',
      TASKPOOL_INLINE_MAX_BYTES: 65_536,
      TASKPOOL_MAX_OBJECT_BYTES: 1_073_741_824,
    });
  });

  it('accepts a Redis Cluster address', () => {
    expect(parseEnv(baseEnvSchema, { REDIS_URL: 'redis-cluster://10.0.0.1:7000,redis-b:7001' }).REDIS_URL).toBe('redis-cluster://10.0.0.1:7000,redis-b:7001');
    expect(() => parseEnv(baseEnvSchema, { REDIS_URL: 'redis-cluster://10.0.0.1' })).toThrow(/REDIS_URL/);
  });

  it('accepts a Redis Sentinel address', () => {
    const url = 'redis-sentinel://s1:26379,s2:26379,s3:26379/mymaster';
    expect(parseEnv(baseEnvSchema, { REDIS_URL: url }).REDIS_URL).toBe(url);
    expect(() => parseEnv(baseEnvSchema, { REDIS_URL: 'redis-sentinel://s1:26379' })).toThrow(/REDIS_URL/);
  });

  it('names every bad variable at once', () => {
    const parse = () => parseEnv(baseEnvSchema, { REDIS_URL: 'http://x', LOG_LEVEL: 'loud', TASKPOOL_PREFIX: 'a b' });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/REDIS_URL[\s\S]*TASKPOOL_PREFIX[\s\S]*LOG_LEVEL|REDIS_URL[\s\S]*LOG_LEVEL/);
    try {
      parse();
    } catch (error) {
      const message = (error as ConfigError).message;
      for (const key of ['REDIS_URL', 'LOG_LEVEL', 'TASKPOOL_PREFIX']) expect(message).toContain(key);
    }
  });
});
