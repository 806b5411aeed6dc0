import type { Logger } from 'pino';
import { serializeError } from '../serializeError.ts';
import type { FromSandbox } from './sandboxProtocol.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/**
 * The logger of a sandbox that takes its own jobs: the subset of pino's `Logger` the job bookkeeping uses
 * (`child`, `debug`...`error`), each line sent to the supervisor, which writes it with its own logger (so a
 * worker's output stays one JSON stream, and its events, `job:fail`..., keep their names). Lines below the
 * supervisor's level are dropped here, before any IPC; errors are serialized (IPC carries JSON).
 */
export function createSandboxLogger(send: (message: FromSandbox) => void, level: string, bindings: Record<string, unknown> = {}): Logger {
  const floor = RANK[level] ?? RANK.info!;
  const make = (bound: Record<string, unknown>): Logger => {
    const write = (lineLevel: Level) => (obj: unknown, msg?: string): void => {
      if (RANK[lineLevel]! < floor) return;
      const record: Record<string, unknown> = { ...bound, ...(typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>) : { msg: String(obj) }) };
      if (record.err instanceof Error) record.err = serializeError(record.err);
      send({ type: 'log', level: lineLevel, record, ...(msg !== undefined && { msg }) });
    };
    const logger = {
      level,
      child: (more: Record<string, unknown>) => make({ ...bound, ...more }),
      isLevelEnabled: (l: string) => (RANK[l] ?? 0) >= floor,
      trace: () => undefined,
      debug: write('debug'),
      info: write('info'),
      warn: write('warn'),
      error: write('error'),
      fatal: write('error'),
    };
    return logger as unknown as Logger;
  };
  return make(bindings);
}
