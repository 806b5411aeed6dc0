import { parseArgs } from 'node:util';
import { ApiError, createApiClient } from './apiClient.ts';
import { CliUsageError, UsageError, type Command, type CommandContext } from './command.ts';
import { loadCliEnv } from './env.ts';
import { stats, workers } from './infoCommands.ts';
import { cancel, retry, status } from './jobCommands.ts';
import { map, submit } from './submitCommands.ts';
import { run, tree } from './workflowCommands.ts';

const USAGE = `Usage: taskpool <command> [options]

Commands:
  submit <task> --input '{...}' [--wait] [--idempotency-key K] [job options]
                                                                 submit one job (--wait: until it ends)
  map <task> --inputs file.jsonl [job options]                   one job per line, waited for with a progress bar
  status <id>                                                    a job's state, result or error
  retry <id> | retry --failed <task>                             retry a failed job, or every failed job of a task
  cancel <id>                                                    remove a job not started, or abort a running one
  run <workflow.json | -> [--wait] [--idempotency-key K]        run a JSON workflow ({"chain": [...]}, {"chord": ...})
  tree <id>                                                      a workflow's steps, with its result or error
  workers                                                        the live workers
  stats                                                          counts and the last hour per task

Job options (submit, map; override the task's defaults, checked by the producer):
  --attempts N       total attempts, the first included (>= 1)
  --priority N       1 (highest) to 2097151
  --timeout-ms N     hard time limit of one attempt, ms
  --delay-ms N       run no sooner than N ms from now

Options:
  --url URL      the producer (env TASKPOOL_URL, default http://127.0.0.1:3000)
  --token T      an API token of the producer (env TASKPOOL_TOKEN)
  --json         machine-readable output (one JSON document, or JSON lines for map)

Exit codes: 0 done, 1 a job or workflow failed (submit --wait, map, status, run --wait, tree) or the API
refused, 2 wrong usage or configuration (a missing or unreadable file included).`;

const COMMANDS: Record<string, Command> = { submit, map, status, retry, cancel, run, tree, workers, stats };

async function main(): Promise<void> {
  const { values, positionals } = parseFlags();
  const [name, ...args] = positionals;
  if (values.help || name === undefined || name === 'help') {
    console.log(USAGE);
    return;
  }
  const command = COMMANDS[name];
  if (!command) throw new CliUsageError(`Unknown command ${JSON.stringify(name)}.\n\n${USAGE}`);
  const env = loadCliEnv({ TASKPOOL_URL: values.url, TASKPOOL_TOKEN: values.token });
  if (!env.TASKPOOL_TOKEN) throw new CliUsageError('No API token: pass --token <token> or set TASKPOOL_TOKEN (one of the producer\'s TASKPOOL_API_TOKENS).');
  const ctx: CommandContext = {
    api: createApiClient({ url: env.TASKPOOL_URL, token: env.TASKPOOL_TOKEN }),
    flags: {
      json: values.json ?? false,
      wait: values.wait ?? false,
      input: values.input,
      inputs: values.inputs,
      failed: values.failed,
      idempotencyKey: values['idempotency-key'],
      jobOptions: { attempts: values.attempts, priority: values.priority, timeoutMs: values['timeout-ms'], delayMs: values['delay-ms'] },
    },
    args,
    out: (text) => void process.stdout.write(`${text}\n`),
    note: (text) => void process.stderr.write(`${text}\n`),
  };
  try {
    process.exitCode = await command(ctx);
  } catch (error) {
    if (error instanceof UsageError) throw new CliUsageError(`${error.message}.\n\n${USAGE}`);
    if (!(error instanceof ApiError)) throw error;
    if (values.json) console.log(JSON.stringify({ error: { code: error.code, message: error.message, ...error.details } }));
    console.error(`error ${error.code}: ${error.message}`);
    for (const issue of (error.details.issues as { path: unknown[]; message: string }[] | undefined) ?? []) {
      console.error(`  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    process.exitCode = 1;
  }
}

function parseFlags() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean' },
        input: { type: 'string' },
        inputs: { type: 'string' },
        wait: { type: 'boolean' },
        failed: { type: 'string' },
        'idempotency-key': { type: 'string' },
        attempts: { type: 'string' },
        priority: { type: 'string' },
        'timeout-ms': { type: 'string' },
        'delay-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new CliUsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

main().catch((error: unknown) => {
  if (error instanceof CliUsageError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
