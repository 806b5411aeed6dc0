import { pino, type Logger, type LevelWithSilent } from 'pino';

/** How log lines look: `pretty` for people, `json` for machines, `auto` picks pretty on a terminal. */
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
  return pino({
    level: options.level ?? 'info',
    base: { pid: process.pid, ...options.base },
    ...(pretty && {
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'hostname' } },
    }),
  });
}

export type { Logger } from 'pino';
