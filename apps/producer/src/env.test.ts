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
    const env = parseEnv(producerEnvSchema, { TASKPOOL_API_TOKENS: ' alpha-token-0123456 , beta-token-01234567,,' });
    expect(env.TASKPOOL_API_TOKENS).toEqual(['alpha-token-0123456', 'beta-token-01234567']);
  });

  it('is absent when unset (main.ts then refuses to start)', () => {
    expect(parseEnv(producerEnvSchema, {}).TASKPOOL_API_TOKENS).toBeUndefined();
  });

  it('refuses a list of only commas, and tokens with spaces inside', () => {
    expect(() => parseEnv(producerEnvSchema, { TASKPOOL_API_TOKENS: ' , ' })).toThrow(/TASKPOOL_API_TOKENS/);
    expect(() => parseEnv(producerEnvSchema, { TASKPOOL_API_TOKENS: 'two words' })).toThrow(/TASKPOOL_API_TOKENS/);
  });

  it('refuses a token shorter than 16 characters, even beside a long one; 16 is enough', () => {
    expect(() => parseEnv(producerEnvSchema, { TASKPOOL_API_TOKENS: 'long-enough-token-0123,short-token-123' })).toThrow(/TASKPOOL_API_TOKENS[\s\S]*16 characters/);
    expect(() => parseEnv(producerEnvSchema, { TASKPOOL_API_TOKENS: '0123456789abcde' })).toThrow(ConfigError);
    expect(parseEnv(producerEnvSchema, { TASKPOOL_API_TOKENS: '0123456789abcdef' }).TASKPOOL_API_TOKENS).toEqual(['0123456789abcdef']);
  });
});

describe('TASKPOOL_TRUST_PROXY', () => {
  const parse = (value?: string) => parseEnv(producerEnvSchema, value === undefined ? {} : { TASKPOOL_TRUST_PROXY: value }).TASKPOOL_TRUST_PROXY;

  it('is false by default, and for "false" or empty', () => {
    expect(parse()).toBe(false);
    expect(parse('false')).toBe(false);
    expect(parse('')).toBe(false);
  });

  it('takes true, or comma-separated addresses and CIDRs', () => {
    expect(parse('true')).toBe(true);
    expect(parse(' 10.0.0.0/8, 127.0.0.1 ,::1,fd00::/8')).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
  });

  it('refuses anything else, naming the variable and the bad parts', () => {
    for (const bad of ['yes', '2', '10.0.0.0/33', 'proxy.local', '1.2.3.4/8/8', '::1/129']) {
      expect(() => parse(bad), bad).toThrow(/TASKPOOL_TRUST_PROXY/);
    }
    expect(() => parse('127.0.0.1,proxy.local')).toThrow(/proxy\.local/);
  });
});
