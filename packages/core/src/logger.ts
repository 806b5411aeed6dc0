import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { pino, type Logger, type LevelWithSilent } from 'pino';

/**
 * How log lines look: `pretty` for people, `json` for machines, `auto` picks pretty on a terminal. Pretty lines
 * need the optional peer `pino-pretty` (the taskpool-worker and taskpool-producer packages bring it); without it,
 * lines are JSON.
 */
export type LogFormat = 'pretty' | 'json' | 'auto';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Default: `'info'`. */
  level?: LevelWithSilent;
  /** Default: `'auto'`. */
  format?: LogFormat;
  /** Fields on every line, e.g. `{ service: 'worker' }`. */
  base?: Record<string, unknown>;
}

/** The one root logger of a process; components take `logger.child({ component })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  const prettyTarget = pretty ? findPinoPretty() : undefined;
  return pino({
    level: options.level ?? 'info',
    base: { pid: process.pid, ...options.base },
    ...(prettyTarget !== undefined && {
      transport: { target: prettyTarget, options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'hostname' } },
    }),
  });
}

/** pino-pretty's path, found beside taskpool or from the running program; undefined when not installed. */
function findPinoPretty(): string | undefined {
  const from = [import.meta.url, ...(process.argv[1] ? [pathToFileURL(process.argv[1]).href] : []), pathToFileURL(`${process.cwd()}/`).href];
  for (const base of from) {
    try {
      return createRequire(base).resolve('pino-pretty');
    } catch {
      // not installed there
    }
  }
  return undefined;
}

export type { Logger } from 'pino';
