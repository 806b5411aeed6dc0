/**
 * `npm start`: runs the whole system locally — a redis-server (unless REDIS_URL is set), a worker pool and the
 * producer serving examples/tasks.ts — and stops all of it on Ctrl-C, SIGTERM or SIGHUP, and when the `npm`
 * that launched it exits (a SIGTERM to npm's own pid is not passed on).
 *
 * package.json runs it as `node --import tsx scripts/start.ts`, in npm's own child, not under the tsx CLI: that
 * CLI runs the script in a child node and, on each SIGINT/SIGTERM it gets, SIGKILLs that child unless the child
 * confirms the signal over IPC within 30 ms. A Ctrl-C reaches tsx twice (from the terminal, and passed on by npm),
 * and on a loaded machine the confirmation can be late: start.ts was then killed halfway through stopping, npm
 * exited 130 with no `system:stopped`, and redis-server (and a worker still closing) were left running.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, TaskpoolError } from '@taskpool/core';
import { inheritedEnv, loadStartEnv } from './env.ts';
import { watchLauncher } from './launcherWatch.ts';
import { LocalRedisError } from './localRedis.ts';
import { createLogOutput } from './logOutput.ts';
import { startSystem, type RunningSystem } from './startSystem.ts';
import { ChildNotReadyError, describeExit } from './startChild.ts';
import { tryItText } from './tryItText.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TASKS_MODULE = 'examples/tasks.ts';

const USAGE = `Usage: npm start [-- --port N] [-- --data-dir DIR]
  --port N        the producer's HTTP port; 0 picks a free one (env TASKPOOL_PORT, default 3000)
  --data-dir DIR  where the local Redis keeps its data, under DIR/redis (env TASKPOOL_DATA_DIR, default .taskpool)
Env: REDIS_URL (use this Redis instead of starting one), TASKPOOL_PREFIX, LOG_LEVEL, LOG_FORMAT,
     TASKPOOL_API_TOKENS (unset: a random token is made and printed), and the worker's and producer's own
     variables (TASKPOOL_CONCURRENCY, ...), which they inherit.`;

const FLAGS = {
  port: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(): Promise<number> {
  const { values } = parseFlags();
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const env = loadStartEnv({ TASKPOOL_PORT: values.port, TASKPOOL_DATA_DIR: values['data-dir'] });
  const pretty = env.LOG_FORMAT === 'pretty' || (env.LOG_FORMAT === 'auto' && process.stdout.isTTY === true);
  const { logger, relay } = createLogOutput(pretty ? 'pretty' : 'json', env.LOG_LEVEL);
  // A closed stdout (`npm start | head`) must not crash the shutdown.
  process.stdout.on('error', () => {});

  // The producer refuses to start without a token: make one for this run unless the user gave theirs.
  const generatedToken = env.TASKPOOL_API_TOKENS ? undefined : randomBytes(24).toString('base64url');

  // Stop once, on the first signal; npm passes a Ctrl-C that reached it too on again.
  const aborted = new AbortController();
  let system: RunningSystem | undefined;
  const stopped = new Promise<number>((resolveStopped) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (aborted.signal.aborted) return void logger.debug({ event: 'system:signal', signal }, 'Already stopping');
      logger.info({ event: 'system:signal', signal }, 'Stopping');
      aborted.abort();
      if (system) void system.stop().then(() => resolveStopped(0));
    };
    // SIGHUP: the terminal was closed; the processes started are not in its process group, so stop them too.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
    // npm killed on its own pid passes nothing on: its exit stops the system as a SIGTERM would.
    watchLauncher((pid) => {
      logger.warn({ event: 'system:launcher-exited', pid }, `The process that started npm start (${pid}) exited: stopping`);
      onSignal('SIGTERM');
    });
    aborted.signal.addEventListener('abort', () => !system && resolveStopped(0));
  });

  const exitCode = await run();
  logger.info({ event: 'system:stopped', exitCode }, 'Stopped');
  return exitCode;

  async function run(): Promise<number> {
    try {
      system = await startSystem({
        root: ROOT,
        port: env.TASKPOOL_PORT,
        ...(env.REDIS_URL !== undefined && { redisUrl: env.REDIS_URL }),
        dataDir: env.TASKPOOL_DATA_DIR,
        tasksModule: TASKS_MODULE,
        prefix: env.TASKPOOL_PREFIX,
        logLevel: env.LOG_LEVEL,
        logger,
        relay,
        env: { ...inheritedEnv(), ...(generatedToken !== undefined && { TASKPOOL_API_TOKENS: generatedToken }) },
        signal: aborted.signal,
      });
    } catch (error) {
      if (aborted.signal.aborted) return stopped;
      throw error;
    }
    const running = system;
    if (aborted.signal.aborted) {
      await running.stop();
      return 0;
    }
    logger.info({ event: 'system:ready', url: running.url, redisUrl: running.redisUrl, pids: running.pids }, 'taskpool is up');
    process.stdout.write(tryItText(running.url, generatedToken));

    const crashed = running.crashed.then(async ({ name, exit }) => {
      logger.error({ event: 'system:crash', process: name, exit: describeExit(exit) }, `The ${name} stopped unexpectedly; stopping the rest`);
      aborted.abort();
      await running.stop();
      return 1;
    });
    return Promise.race([stopped, crashed]);
  }
}

function parseFlags(): ReturnType<typeof parseArgs<{ options: typeof FLAGS }>> {
  try {
    return parseArgs({ options: FLAGS });
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n${USAGE}`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Known problems (bad configuration, no Redis, a process that would not start and said why on stderr)
    // are one readable message; anything else keeps its stack.
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(error instanceof TaskpoolError || error instanceof LocalRedisError || error instanceof ChildNotReadyError ? error.message : error);
    process.exit(1);
  },
);
