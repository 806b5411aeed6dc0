import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import { sentinelOptions } from './redisConnection.ts';
import { isSentinelUrl, parseSentinelUrl } from './sentinelUrl.ts';

describe('parseSentinelUrl', () => {
  it('reads the sentinels, the master group and the credentials', () => {
    expect(parseSentinelUrl('redis-sentinel://app:p%40ss@10.0.0.1:26379,sentinel-b:26380,sentinel-c/mymaster?db=2&sentinelPassword=s3')).toEqual({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-b', port: 26380 },
        { host: 'sentinel-c', port: 26379 },
      ],
      name: 'mymaster',
      username: 'app',
      password: 'p@ss',
      sentinelPassword: 's3',
      db: 2,
    });
    expect(parseSentinelUrl('redis-sentinel://:secret@h:1/m')).toEqual({ sentinels: [{ host: 'h', port: 1 }], name: 'm', password: 'secret' });
  });

  it('refuses an address without a master name, with a bad node or an unknown option', () => {
    for (const bad of ['redis-sentinel://h:26379', 'redis-sentinel://h:26379/', 'redis-sentinel://h:x/m', 'redis-sentinel://h:1,,h:2/m', 'redis-sentinel://h:1/m?tls=1', 'redis-sentinel://h:1/m?db=a']) {
      expect(() => parseSentinelUrl(bad), bad).toThrow(ConfigError);
    }
    expect(isSentinelUrl('redis://h:1')).toBe(false);
  });

  it('gives ioredis the sentinels, the master role, the base options and READONLY reconnects', () => {
    const retryStrategy = (times: number): number => times;
    const options = sentinelOptions('redis-sentinel://h:1,g:2/m', { maxRetriesPerRequest: 1, retryStrategy });
    expect(options).toMatchObject({ sentinels: [{ host: 'h', port: 1 }, { host: 'g', port: 2 }], name: 'm', role: 'master', maxRetriesPerRequest: 1 });
    // ioredis ends a sentinel connection for good when the sentinels' retry gives up: it must always retry.
    expect(options.sentinelRetryStrategy).toBe(retryStrategy);
    expect(options.reconnectOnError?.(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(options.reconnectOnError?.(new Error('ERR other'))).toBe(false);
  });
});
