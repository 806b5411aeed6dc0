import { describe, expect, it } from 'vitest';
import { isConnectionError } from './redisConnection.ts';

/** As ioredis makes it (redis-errors' AbortError) for a pipeline's unanswered commands when its socket closes. */
function ioredisAbortError(): Error {
  const error = new Error('Command aborted due to connection close');
  error.name = 'AbortError';
  return Object.assign(error, { command: { name: 'evalsha', args: [] } });
}

describe('isConnectionError', () => {
  it("knows ioredis's AbortError for a pipeline cut by a closed socket (CI saw one reach a map's caller raw)", () => {
    expect(isConnectionError(ioredisAbortError())).toBe(true);
  });

  it('knows a closed connection and a socket error code, not a reply error or an AbortSignal abort', () => {
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(new Error('ERR unknown command'))).toBe(false);
    const controller = new AbortController();
    controller.abort();
    expect(isConnectionError(controller.signal.reason)).toBe(false);
  });
});
