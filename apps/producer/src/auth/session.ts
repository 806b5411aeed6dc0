import { createHash } from 'node:crypto';
import type { TokenCheck } from './apiTokens.ts';

/** The dashboard's session cookie. */
export const SESSION_COOKIE = 'taskpool_session';

/** How long a dashboard login lasts. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;

/**
 * The key that signs session cookies, derived from the tokens: every producer of a deployment (same tokens)
 * accepts the others' cookies, and changing the tokens ends every session.
 */
export function sessionSecret(tokens: readonly string[]): string {
  return createHash('sha256').update(`taskpool-session:${[...tokens].sort().join('\n')}`).digest('base64url');
}

/** A session's (unsigned) cookie value: which token logged in, and until when. No token in it. */
export function sessionValue(fingerprint: string, now = Date.now()): string {
  return `${fingerprint}.${now + SESSION_TTL_MS}`;
}

/** True for an unexpired session whose token is still configured; the signature was checked before. */
export function isLiveSession(value: string, tokens: TokenCheck, now = Date.now()): boolean {
  const [fingerprint, expires, ...rest] = value.split('.');
  if (rest.length > 0 || !fingerprint || !expires) return false;
  return Number(expires) > now && tokens.knows(fingerprint);
}
