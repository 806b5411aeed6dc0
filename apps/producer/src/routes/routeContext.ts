import type { AnyTask, TaskpoolAdmin, TaskpoolClient } from '@taskpool/core';
import type { ViaRedis } from '../redisHealth.ts';

/** What the route modules share; `buildServer` makes it. */
export interface RouteContext {
  /** The task module's tasks, by name. */
  tasks: ReadonlyMap<string, AnyTask>;
  client: TaskpoolClient;
  admin: TaskpoolAdmin;
  /** Runs a Redis call only while Redis is up, within the deadline: a request never hangs on Redis. */
  viaRedis: ViaRedis;
  /** The longest `?waitMs=` a long-poll may ask for. */
  maxWaitMs: number;
  /** Aborts when the server starts closing: long-polls answer at once. */
  closing: AbortSignal;
}
