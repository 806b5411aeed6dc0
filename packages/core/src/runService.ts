import type { Logger } from 'pino';
import { ConfigError, TaskModuleError } from './errors.ts';

/**
 * The signal handling of a service's `main.ts`: the first SIGTERM/SIGINT runs `shutdown` and exits 0 when
 * it reports a clean stop (1 otherwise); a second signal exits 1 at once. Events: `<service>:signal`,
 * `<service>:exit`, `<service>:shutdown-failed`, `<service>:abort`.
 */
export function exitOnSignals(logger: Logger, service: string, shutdown: () => Promise<boolean | void>): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ event: `${service}:abort`, signal }, 'Second signal: stopping now');
      process.exit(1);
    }
    logger.info({ event: `${service}:signal`, signal });
    shutdown().then(
      (clean) => {
        logger.info({ event: `${service}:exit`, clean: clean !== false });
        process.exit(clean === false ? 1 : 0);
      },
      (err: unknown) => {
        logger.error({ event: `${service}:shutdown-failed`, err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Runs a service's `main()`: a {@link ConfigError} prints its message and exits 2; a task module that cannot load
 * prints its message (and the stack of its cause, where the user's error is) and exits 1; anything else prints
 * its stack and exits 1.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    if (error instanceof TaskModuleError) {
      console.error(error.cause instanceof Error ? `${error.message}\n${error.cause.stack ?? ''}` : error.message);
      process.exit(1);
    }
    console.error(error);
    process.exit(1);
  });
}
