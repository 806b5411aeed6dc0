import { pino, type LevelWithSilent, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';

/** Where `npm start` writes: its own logger, and `relay` for the JSON log lines of the processes it started. */
export interface LogOutput {
  logger: Logger;
  /** Writes one line a started process printed: as is in JSON mode, prettified in pretty mode. */
  relay(line: string): void;
}

/**
 * Everything goes to stdout synchronously and in order, through one formatter: the started processes log
 * JSON (so their ready lines can be read) and this formats their lines and its own alike.
 */
export function createLogOutput(format: 'pretty' | 'json', level: LevelWithSilent): LogOutput {
  const prettify = format === 'pretty' ? PinoPretty.prettyFactory({ translateTime: 'HH:MM:ss.l', ignore: 'hostname', singleLine: true }) : undefined;
  const write = (text: string): void => {
    process.stdout.write(text);
  };
  const writeLog = (json: string): void => write(prettify ? prettify(json) : json);
  const logger = pino({ level, base: { pid: process.pid, service: 'start' } }, { write: writeLog });
  return {
    logger,
    relay(line) {
      if (!prettify || !line.startsWith('{')) return write(`${line}\n`);
      try {
        write(prettify(JSON.parse(line)));
      } catch {
        write(`${line}\n`);
      }
    },
  };
}
