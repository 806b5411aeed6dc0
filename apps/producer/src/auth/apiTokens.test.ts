import { describe, expect, it } from 'vitest';
import { bearerToken, createTokenCheck, fingerprintOf } from './apiTokens.ts';

describe('createTokenCheck', () => {
  const check = createTokenCheck(['first-token-aaaa', 'second-token-bbbb']);

  it('matches every configured token, and nothing else', () => {
    expect(check.match('first-token-aaaa')).toBe(fingerprintOf('first-token-aaaa'));
    expect(check.match('second-token-bbbb')).toBe(fingerprintOf('second-token-bbbb'));
    for (const wrong of ['', 'first-token-aaa', 'first-token-aaaaa', 'FIRST-TOKEN-AAAA']) expect(check.match(wrong)).toBeUndefined();
  });

  it('knows the fingerprints of configured tokens only', () => {
    expect(check.knows(fingerprintOf('first-token-aaaa'))).toBe(true);
    expect(check.knows(fingerprintOf('revoked-token'))).toBe(false);
  });

  it('gives fingerprints that do not contain the token', () => {
    expect(fingerprintOf('first-token-aaaa')).not.toContain('first');
    expect(fingerprintOf('first-token-aaaa')).toHaveLength(16);
  });
});

describe('bearerToken', () => {
  it('reads the token of a Bearer header, in any case of the scheme', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer abc')).toBe('abc');
  });

  it('reads nothing from other schemes or malformed headers', () => {
    for (const header of [undefined, '', 'Basic abc', 'Bearer', 'Bearer a b', 'Bearerabc']) expect(bearerToken(header)).toBeUndefined();
  });
});
