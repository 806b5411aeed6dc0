import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { isSentinelUrl, parseSentinelUrl } from './sentinelUrl.ts';
import { DEFAULT_PREFIX } from './store/taskpoolKeys.ts';

/** The variables every taskpool process reads; apps extend this schema. Parsing it reads nothing by itself. */
export const baseEnvSchema = z.object({
  /**
   * Redis to use: `redis://`, `rediss://`, `redis-cluster://host:port,host:port` (seed nodes of a Redis Cluster),
   * or `redis-sentinel://[user:pass@]host:port,host:port/<masterName>[?db=N&sentinelPassword=p]` (the
   * master a group of Redis Sentinels names, followed through failovers). Default: `redis://127.0.0.1:6379`.
   */
  REDIS_URL: z
    .union([
      z.url({ protocol: /^rediss?$/ }),
      z.string().regex(/^redis-cluster:\/\/[\w.-]+:\d+(,[\w.-]+:\d+)*$/, 'redis-cluster://host:port,host:port'),
      z.string().refine(isSentinelUrl).refine(validSentinelUrl, 'redis-sentinel://host:port,host:port/<masterName>'),
    ])
    .default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix shared by producers and workers. Default: `taskpool`. */
  TASKPOOL_PREFIX: z
    .string()
    .regex(/^[\w.{}-]+$/, 'letters, digits, _ . - { } only')
    .default(DEFAULT_PREFIX),
  /** Path of the task module. */
  TASKPOOL_TASKS: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `pretty` for people, `json` for machines, `auto`: pretty on a terminal. */
  LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),
  /**
   * The claim check: a task's input (submitted over HTTP) or output (in the worker) whose encoded JSON takes more
   * bytes than this is stored as an object owned by its job, and the job carries the reference. Default: 64 KiB.
   */
  TASKPOOL_INLINE_MAX_BYTES: z.coerce.number().int().positive().default(65_536),
  /** The largest object (`POST /v1/objects`, `ctx.put`, a claim-checked value), bytes; bigger ones fail with `PAYLOAD_TOO_LARGE` and nothing is written. Default: 1 GiB. */
  TASKPOOL_MAX_OBJECT_BYTES: z.coerce.number().int().positive().default(1_073_741_824),
  /** A directory every machine mounts (NFS, a shared volume), for objects over 1 MiB. Default: none (every object in Redis). */
  TASKPOOL_OBJECTS_DIR: z.string().min(1).optional(),
});

function validSentinelUrl(url: string): boolean {
  try {
    parseSentinelUrl(url);
    return true;
  } catch {
    return false;
  }
}

/** Parses an environment with a schema once; throws {@link ConfigError} naming every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, source: Record<string, string | undefined>): z.output<S> {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(env)'}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}
