import type { ApiClient } from './apiClient.ts';

/** The parsed command line. */
export interface CliFlags {
  json: boolean;
  input?: string | undefined;
  inputs?: string | undefined;
  wait: boolean;
  failed?: string | undefined;
  idempotencyKey?: string | undefined;
  /** Per-job options of `submit` and `map` (`--attempts`, `--priority`, `--timeout-ms`, `--delay-ms`), as typed: the producer checks them. */
  jobOptions: JobOptionFlags;
}

/** The per-job option flags given, by the API's query parameter names. */
export type JobOptionFlags = Partial<Record<'attempts' | 'priority' | 'timeoutMs' | 'delayMs', string>>;

/** The query string of a task submit carrying the per-job options given (`?attempts=2&delayMs=500`), or ''. */
export function jobOptionsQuery(flags: CliFlags): string {
  const entries = Object.entries(flags.jobOptions).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries).toString()}`;
}

/** The `idempotency-key` header of a submit when `--idempotency-key` was given. */
export function idempotencyHeaders(flags: CliFlags): Record<string, string> | undefined {
  return flags.idempotencyKey === undefined ? undefined : { 'idempotency-key': flags.idempotencyKey };
}

/** What a command gets: the API, the flags and positionals after the command name, and where to print. */
export interface CommandContext {
  api: ApiClient;
  flags: CliFlags;
  args: string[];
  /** Prints a line on stdout (results, tables, JSON). */
  out(text: string): void;
  /** Prints a line on stderr (progress, notes). */
  note(text: string): void;
}

/** A command returns its exit code: 0 done, 1 a job failed or the API refused, 2 wrong usage. */
export type Command = (ctx: CommandContext) => Promise<number>;

/** Wrong usage of a command (exit 2, with the usage printed). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Bad configuration or flags (exit 2, the message printed as is). */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** The one positional a command needs, or a {@link UsageError}. */
export function onlyArg(ctx: CommandContext, what: string): string {
  const [arg, ...rest] = ctx.args;
  if (arg === undefined || rest.length > 0) throw new UsageError(`Expected one ${what}`);
  return arg;
}
