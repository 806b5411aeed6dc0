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

describe('TASKPOOL_API_TOKENS', () => {
  it('splits on commas, trims, and drops empty entries', () => {
    const env = parseEnv(producerEnvSchema, { TASKPOOL_API_TOKENS: ' alpha-token , beta-token,,' });
    expect(env.TASKPOOL_API_TOKENS).toEqual(['alpha-token', 'beta-token']);
  });

  it('is absent when unset (main.ts then refuses to start)', () => {
    expect(parseEnv(producerEnvSchema, {}).TASKPOOL_API_TOKENS).toBeUndefined();
  });

  it('refuses a list of only commas, and tokens with spaces inside', () => {
    expect(() => parseEnv(producerEnvSchema, { TASKPOOL_API_TOKENS: ' , ' })).toThrow(/TASKPOOL_API_TOKENS/);
    expect(() => parseEnv(producerEnvSchema, { TASKPOOL_API_TOKENS: 'two words' })).toThrow(/TASKPOOL_API_TOKENS/);
  });
});
