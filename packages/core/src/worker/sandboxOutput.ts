import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';

/** A longer line of a handler's output is cut to this many characters in the log. */
const MAX_LOG_LINE_CHARS = 8_192;

/** Which of a sandbox's streams a line came from: its log event. */
export type SandboxOutputEvent = 'sandbox:stdout' | 'sandbox:stderr';

/**
 * Logs each line a sandbox writes to `stream` as a log line of its own (`event`; stdout at `info`, stderr at
 * `warn`), tagged with the job `jobOf()` names: the sandbox's latest run, since output may trail its end.
 * The worker's output so stays one JSON object per line, whatever a handler prints.
 */
export function logSandboxOutput(stream: Readable | null, event: SandboxOutputEvent, logger: Logger, jobOf: () => { jobId: string; task: string } | undefined): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line: string) => {
    const text = line.length > MAX_LOG_LINE_CHARS ? `${line.slice(0, MAX_LOG_LINE_CHARS)}… (${line.length} characters)` : line;
    const fields = { event, ...jobOf() };
    if (event === 'sandbox:stderr') logger.warn(fields, text);
    else logger.info(fields, text);
  });
}
