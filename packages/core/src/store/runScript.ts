import { createHash } from 'node:crypto';
import type { RedisClient } from '../redisConnection.ts';

/** A Lua script with its SHA-1, run by {@link runScript} or {@link runScripts}. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

/** A script for {@link runScript}: every key it touches must be among the keys it is given (Redis Cluster). */
export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Runs a script by its SHA (`EVALSHA`), loading it with `EVAL` once a node does not know it. */
export async function runScript(redis: RedisClient, script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return redis.eval(script.source, keys.length, ...keys, ...args);
  }
}

/**
 * Runs one script many times in one pipeline (one round trip; on a Cluster every call's keys must share a slot,
 * as a hash-tagged prefix makes them). Calls a node did not know the script for are repeated with `EVAL`.
 * A call that fails otherwise rejects the whole.
 */
export async function runScripts(redis: RedisClient, script: LuaScript, calls: readonly { keys: readonly string[]; args: readonly (string | number)[] }[]): Promise<unknown[]> {
  if (calls.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const { keys, args } of calls) pipeline.evalsha(script.sha, keys.length, ...keys, ...args);
  const replies = (await pipeline.exec()) ?? [];
  const results: unknown[] = [];
  for (const [i, call] of calls.entries()) {
    const [error, value] = replies[i] ?? [new Error('No reply')];
    if (!error) results.push(value);
    else if (isNoScript(error)) results.push(await redis.eval(script.source, call.keys.length, ...call.keys, ...call.args));
    else throw error;
  }
  return results;
}
