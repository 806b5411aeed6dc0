import { ConfigError, parseEnv } from '@taskpool/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BODY_LIMIT_BYTES, producerEnvSchema } from './env.ts';

describe('producerEnvSchema', () => {
  it('has the documented defaults', () => {
    const env = parseEnv(producerEnvSchema, {});
    expect(env).toMatchObject({ TASKPOOL_PORT: 3000, TASKPOOL_HOST: '127.0.0.1', TASKPOOL_BODY_LIMIT_BYTES: DEFAULT_BODY_LIMIT_BYTES });
    expect(DEFAULT_BODY_LIMIT_BYTES).toBe(1_048_576);
  });

  it('accepts port 0 (pick a free port)', () => {
    expect(parseEnv(producerEnvSchema, { TASKPOOL_PORT: '0' }).TASKPOOL_PORT).toBe(0);
  });

  it('names every bad variable at once', () => {
    const parse = () => parseEnv(producerEnvSchema, { TASKPOOL_PORT: '70000', TASKPOOL_BODY_LIMIT_BYTES: 'lots' });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/TASKPOOL_PORT[\s\S]*TASKPOOL_BODY_LIMIT_BYTES/);
  });
});
