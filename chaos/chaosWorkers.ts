import { readFileSync } from 'node:fs';
import { childPids } from '../bench/processUsage.ts';
import { isAlive, spawnWorker, type LogLine, type WorkerService } from '../test/helpers/spawnService.ts';

/** How every worker of a run is started. */
export interface ChaosWorkerOptions {
  /** The Redis URL of the worker in slot `slot` (a scenario may put one behind a proxy). */
  redisUrl(slot: number): string;
  prefix: string;
  /** Task module, relative to the repo root. */
  tasks: string;
  concurrency: number;
  /** Extra environment: the execution log's path, and any worker setting a scenario does not leave at its default. */
  env: Record<string, string>;
}

/** A `taskpool-worker` process of a run, in its slot. */
export interface ChaosWorker {
  slot: number;
  pid: number;
  service: WorkerService;
  /** Its live sandbox processes, read from /proc now (a killed sandbox is replaced by one with a new pid). */
  sandboxPids(): number[];
}

/** Counts of the worker log lines the report cares about, by `event`. */
export type EventCounts = Record<string, number>;

/** Log events counted in a run's report: how the workers saw the faults. */
const COUNTED_EVENTS = new Set(['job:fail', 'job:requeued', 'worker:partitioned', 'redis:error', 'sandbox:start-failed', 'pool:unhealthy']);

/**
 * The `taskpool-worker` processes of one run, one per slot, started as the repo runs them
 * (`node_modules/.bin/taskpool-worker`, JSON logs at `info`). A fault kills or stops the worker of a slot;
 * `restart` starts a new one in it. Every process ever started is remembered, so `stopAll` leaves none behind.
 */
export class ChaosWorkers {
  readonly #slots: (ChaosWorker | undefined)[] = [];
  readonly #everStarted: ChaosWorker[] = [];

  constructor(private readonly options: ChaosWorkerOptions) {}

  /** Starts `count` workers, one per slot, all at once; resolves when every one has logged `worker:ready`. */
  async start(count: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, (_, slot) => this.restart(slot)));
  }

  /** Starts a worker in `slot` (which must be empty) and waits until it is ready. */
  async restart(slot: number): Promise<ChaosWorker> {
    if (this.#slots[slot]) throw new Error(`Slot ${slot} already has worker ${this.#slots[slot].pid}`);
    const service = await spawnWorker({
      redisUrl: this.options.redisUrl(slot),
      prefix: this.options.prefix,
      tasks: this.options.tasks,
      concurrency: this.options.concurrency,
      env: { LOG_LEVEL: 'info', ...this.options.env },
    });
    // Never leave a worker behind if the runner itself dies.
    const killOnExit = (): void => void service.child.kill('SIGKILL');
    process.once('exit', killOnExit);
    void service.exited.then(() => process.removeListener('exit', killOnExit));
    const worker: ChaosWorker = { slot, pid: service.pid, service, sandboxPids: () => childPids(service.pid, 'sandboxMain') };
    this.#slots[slot] = worker;
    this.#everStarted.push(worker);
    return worker;
  }

  /** The live workers, by slot. */
  live(): ChaosWorker[] {
    return this.#slots.filter((w): w is ChaosWorker => w !== undefined);
  }

  /** The worker in `slot`, if one is running. */
  at(slot: number): ChaosWorker | undefined {
    return this.#slots[slot];
  }

  /** `kill -9` of the whole worker (its sandboxes exit when their IPC channel closes); resolves when it has exited. */
  async kill9(slot: number): Promise<void> {
    const worker = this.#take(slot);
    process.kill(worker.pid, 'SIGKILL');
    await worker.service.exited;
  }

  /** SIGTERM, as a deploy does, and waits until the worker has drained and exited (SIGKILL after `killAfterMs`). */
  async sigterm(slot: number, killAfterMs: number): Promise<void> {
    const worker = this.#take(slot);
    await worker.service.stop('SIGTERM', killAfterMs);
  }

  /**
   * Stops every worker still running (SIGTERM, SIGKILL after 10 s), then kills any sandbox process they left
   * (by pid, from the execution log, only if it still runs `sandboxMain`).
   */
  async stopAll(sandboxPids: Iterable<number>): Promise<void> {
    await Promise.all(this.#everStarted.map((w) => w.service.stop('SIGTERM', 10_000)));
    this.#slots.length = 0;
    for (const pid of new Set(sandboxPids)) {
      if (isAlive(pid) && isSandbox(pid)) process.kill(pid, 'SIGKILL');
    }
  }

  /** Counts of the {@link COUNTED_EVENTS} over every worker of the run. */
  eventCounts(): EventCounts {
    const counts: EventCounts = {};
    const count = (line: LogLine): void => {
      if (line.event && COUNTED_EVENTS.has(line.event)) counts[line.event] = (counts[line.event] ?? 0) + 1;
    };
    for (const worker of this.#everStarted) worker.service.lines.forEach(count);
    return counts;
  }

  #take(slot: number): ChaosWorker {
    const worker = this.#slots[slot];
    if (!worker) throw new Error(`No worker in slot ${slot}`);
    this.#slots[slot] = undefined;
    return worker;
  }
}

/** True if `pid` runs taskpool's `sandboxMain` (so a recycled pid of another process is never killed). */
function isSandbox(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('sandboxMain');
  } catch {
    return false;
  }
}
