import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@taskpool/core';

/** The shortest API token accepted: a shorter one is guessable, and the producer refuses to start with it. */
export const MIN_TOKEN_LENGTH = 16;

/** Throws {@link ConfigError} unless every token has at least {@link MIN_TOKEN_LENGTH} characters (the token is not shown). */
export function assertStrongTokens(tokens: readonly string[]): void {
  const weak = tokens.findIndex((token) => token.length < MIN_TOKEN_LENGTH);
  if (weak !== -1) {
    throw new ConfigError(`API token #${weak + 1} is shorter than ${MIN_TOKEN_LENGTH} characters: easy to guess (e.g. use \`openssl rand -hex 24\`)`);
  }
}

/** Checks bearer tokens against the configured ones. */
export interface TokenCheck {
  /** The fingerprint of the matching token (see {@link fingerprintOf}), or undefined when none matches. */
  match(candidate: string): string | undefined;
  /** True while a token of that fingerprint is still configured (a session outlives no revoked token). */
  knows(fingerprint: string): boolean;
}

/**
 * Compares in constant time: the candidate and every token are hashed to 32 bytes (so lengths leak nothing)
 * and compared with `timingSafeEqual`, each one, without stopping at a match.
 */
export function createTokenCheck(tokens: readonly string[]): TokenCheck {
  const digests = tokens.map((token) => ({ digest: sha256(token), fingerprint: fingerprintOf(token) }));
  const fingerprints = new Set(digests.map((d) => d.fingerprint));
  return {
    match(candidate) {
      const digest = sha256(candidate);
      let found: string | undefined;
      for (const entry of digests) if (timingSafeEqual(digest, entry.digest) && found === undefined) found = entry.fingerprint;
      return found;
    },
    knows: (fingerprint) => fingerprints.has(fingerprint),
  };
}

/** A short, non-reversible name of a token: what a session cookie carries instead of the token. */
export function fingerprintOf(token: string): string {
  return createHash('sha256').update(`taskpool-token:${token}`).digest('base64url').slice(0, 16);
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
