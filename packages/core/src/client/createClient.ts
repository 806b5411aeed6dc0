import { randomUUID } from 'node:crypto';
import type { FlowJob } from 'bullmq';
import { DEFAULT_QUEUE, queueOf, type AnyTask, type TaskInput, type TaskOutput } from '../defineTask.ts';
import { IdempotencyConflictError } from '../errors.ts';
import { assertJobSize, DEFAULT_MAX_JOB_BYTES, taskJobData } from '../store/jobData.ts';
import { DEFAULT_PREFIX } from '../store/taskpoolKeys.ts';
import { prepareInput } from '../parseTaskIO.ts';
import { checkClusterPrefix, createRedisConnection } from '../redisConnection.ts';
import { cancelTask } from './cancelTask.ts';
import { durableWait, ReplicaConfirmer } from './durableSubmit.ts';
import { CompletionWatcher } from './completionWatcher.ts';
import { ErrorRegistry, type ErrorClass, type RegisterErrorOptions } from './errorRegistry.ts';
import { idempotentJobId, jobOptions, keepPolicy, type KeepPolicy, type SubmitOptions } from './jobOptions.ts';
import { readJobView, type JobView } from './jobView.ts';
import { MapExecution, type MapHost, type MapItem } from './mapExecution.ts';
import { MapRun, type MapInputs, type MapOptions } from './mapRun.ts';
import { queueCache } from './queueCache.ts';
import { TaskHandle, type HandleHost } from './taskHandle.ts';
import { asCompleted, waitHandles, type WaitHandlesOptions, type WaitHandlesResult } from './waitHandles.ts';
import { WorkflowHandle, type WorkflowHost } from './workflowHandle.ts';
import { compileWorkflow } from '../workflow/compileWorkflow.ts';
import { materialize } from '../workflow/stepTemplate.ts';
import { sameStoredData } from './sameStoredData.ts';
import type { Bound, Workflow } from '../workflow/workflow.ts';
import { CountedFlowProducer } from '../store/countedQueue.ts';
import { jobKey } from '../store/jobKeys.ts';
import { jobExists, readStoredData } from '../store/jobReads.ts';

export type { SubmitOptions } from './jobOptions.ts';

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** `redis://` or `rediss://` URL, `redis-cluster://host:port,host:port` for a Redis Cluster (seed nodes), or `redis-sentinel://host:port,host:port/<masterName>` for the master a group of Redis Sentinels names. */
  redisUrl: string;
  /** BullMQ key prefix; workers must use the same; on a Redis Cluster, a hash tag such as `{taskpool}`. Default: `'taskpool'`. */
  prefix?: string;
  /** Queues `getJob` searches besides those this client sent to. Default: `['default']`. */
  queues?: string[];
  /** How often awaited jobs are re-read from Redis when no event says one may have been missed (a reconnect or a trimmed event stream rereads them at once). Default: 5000 ms. */
  sweepMs?: number;
  /** How long finished jobs are kept. Default: completed 24 h, failed 7 days. */
  keep?: { completedSeconds?: number; failedSeconds?: number };
  /** Error classes to rebuild remote errors as, matched by name (see {@link TaskpoolClient.registerError}). */
  errors?: ErrorClass[];
  /**
   * The most one job's data may take in Redis, in bytes (its input as stored, after the schema's unknown keys
   * are dropped); a larger submit throws `PayloadTooLargeError` and writes nothing. Default: 1 MiB, the
   * producer's HTTP body limit.
   */
  maxJobBytes?: number;
}

/** Submits tasks and reads their jobs. */
export interface TaskpoolClient {
  /**
   * Validates the input (nothing is written to Redis if it is invalid), enqueues it, and returns a handle.
   * With `idempotencyKey`, a second submit returns the first job (see {@link SubmitOptions.idempotencyKey}).
   */
  submit<T extends AnyTask>(task: T, input: TaskInput<T>, options?: SubmitOptions): Promise<TaskHandle<TaskOutput<T>>>;
  /**
   * Runs a task over many inputs, `chunkSize` per job and at most `window` jobs in flight, and yields the
   * results in input order (or as they finish); see {@link MapRun} and {@link MapOptions}.
   */
  map<T extends AnyTask>(task: T, inputs: MapInputs<TaskInput<T>>, options: MapOptions & { settled: true }): MapRun<MapItem<TaskOutput<T>>>;
  map<T extends AnyTask>(task: T, inputs: MapInputs<TaskInput<T>>, options?: MapOptions & { settled?: false }): MapRun<TaskOutput<T>>;
  /** Yields the handles as their tasks finish (succeeded or failed), fastest first. */
  asCompleted<H extends TaskHandle<unknown>>(handles: Iterable<H>): AsyncIterableIterator<H>;
  /** Waits for all of the handles' tasks, the first to finish, or the first to fail; see {@link WaitHandlesOptions}. */
  wait<H extends TaskHandle<unknown>>(handles: Iterable<H>, options?: WaitHandlesOptions): Promise<WaitHandlesResult<H>>;
  /**
   * Rebuilds remote errors of this class's name (or `options.name`) as instances of it: prototype, name,
   * message, remote stack, code, cause and own fields; its constructor is not run. They are not
   * `instanceof RemoteTaskError`; `taskFailureOf(error)` gives their job.
   */
  registerError(type: ErrorClass, options?: RegisterErrorOptions): void;
  /**
   * Sends a workflow (`chain`, `group`, `chord`, a signature) as one BullMQ flow, atomically: every bound
   * input is validated first (nothing reaches Redis if one is invalid). Its steps run as their children
   * finish; see {@link WorkflowHandle}.
   */
  run<Out>(workflow: Workflow<Bound, Out>): Promise<WorkflowHandle<Out>>;
  /** A handle for a workflow sent earlier (by any client), searched in every known queue. */
  workflow(id: string): Promise<WorkflowHandle<unknown> | undefined>;
  /** A handle for a job submitted earlier (by any client). */
  handle<T extends AnyTask>(task: T, jobId: string): TaskHandle<TaskOutput<T>>;
  /** A job's view, searched in every known queue. */
  getJob(jobId: string): Promise<JobView | undefined>;
  /** Closes every connection. Waits still pending (results, maps) reject with `ClientClosedError`; the jobs go on. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates a client. Its command connection fails fast when Redis is away (no offline queue). */
export function createClient(options: ClientOptions): TaskpoolClient {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const maxJobBytes = options.maxJobBytes ?? DEFAULT_MAX_JOB_BYTES;
  checkClusterPrefix(options.redisUrl, prefix);
  const redis = createRedisConnection(options.redisUrl, 'producer');
  const searched = new Set([DEFAULT_QUEUE, ...(options.queues ?? [])]);
  const keep: KeepPolicy = keepPolicy(options.keep);
  const errors = new ErrorRegistry();
  for (const type of options.errors ?? []) errors.register(type);

  const queue = queueCache(redis, prefix, (name) => searched.add(name));
  const watcher = new CompletionWatcher({
    redis,
    queue,
    connect: () => createRedisConnection(options.redisUrl, 'worker'),
    ...(options.sweepMs !== undefined && { sweepMs: options.sweepMs }),
  });
  const host: HandleHost & MapHost = {
    watcher,
    errors,
    queue,
    view: (q, id) => readJobView(queue(q), redis, prefix, id),
    cancel: (q, jobId) => cancelTask(queue(q), redis, { jobId, prefix, markerTtlSeconds: keep.failedSeconds }),
  };

  const replicas = new ReplicaConfirmer(() => createRedisConnection(options.redisUrl, 'producer'), prefix);
  const flows = new CountedFlowProducer({ connection: redis, prefix });
  flows.on('error', () => undefined);
  const workflowHost: WorkflowHost = {
    watcher,
    errors,
    redis,
    prefix,
    cancelTtlSeconds: keep.failedSeconds,
    cancel: host.cancel,
  };

  const close = async (): Promise<void> => {
    watcher.close();
    await flows.close();
    await queue.closeAll();
    await replicas.close();
    await redis.quit().catch(() => redis.disconnect());
  };

  return {
    async submit<T extends AnyTask>(task: T, input: TaskInput<T>, submitOptions: SubmitOptions = {}) {
      // Checked, and stored as given but for what the schema drops: the sandbox parses it, once.
      const data = taskJobData(prepareInput(task, input));
      assertJobSize(`input of task ${task.name}`, data, maxJobBytes);
      const name = queueOf(task);
      const key = submitOptions.idempotencyKey;
      const jobId = key === undefined ? randomUUID() : idempotentJobId(task.name, key);
      const q = queue(name);
      const durable = durableWait(submitOptions.durable);
      // A new job (not an idempotent one, which may exist and be done): its result() need not read it first.
      const watched = key === undefined && watcher.watch(name, jobId);
      try {
        await q.add(task.name, data, { ...jobOptions(task.defaults, submitOptions, keep), jobId });
        await replicas.confirm(durable, { jobId, jobKeys: [jobKey(prefix, name, jobId)] });
      } catch (error) {
        if (watched) watcher.unwatch(name, jobId);
        throw error;
      }
      if (key !== undefined) {
        // BullMQ kept the first job if the id existed: whichever submit won, the loser sees another input.
        const [stored] = await readStoredData(redis, [jobKey(prefix, name, jobId)]);
        if (stored !== null && stored !== undefined && !sameStoredData(stored, data)) throw new IdempotencyConflictError(jobId);
      }
      return new TaskHandle<TaskOutput<T>>(jobId, task, name, host);
    },
    map(task: AnyTask, inputs: MapInputs<unknown>, mapOptions: MapOptions = {}) {
      const chunkSize = positiveInteger('chunkSize', mapOptions.chunkSize ?? 1);
      const window = positiveInteger('window', mapOptions.window ?? Math.max(8, Math.ceil(1024 / chunkSize)));
      const execution = new MapExecution(host, {
        task,
        queue: queueOf(task),
        jobOptions: jobOptions(task.defaults, mapOptions, keep),
        chunkSize,
        window,
        maxJobBytes,
        ordered: mapOptions.ordered ?? true,
        ...(mapOptions.signal && { signal: mapOptions.signal }),
        onProgress: (progress) => {
          mapOptions.onProgress?.(progress);
          run.emitProgress(progress);
        },
      }, inputs);
      const run = new MapRun<never>(execution, mapOptions.settled === true);
      return run;
    },
    asCompleted: (handles) => asCompleted(handles),
    wait: (handles, waitOptions) => waitHandles(handles, waitOptions),
    registerError: (type, registerOptions) => errors.register(type, registerOptions),
    async run<Out>(workflow: Workflow<Bound, Out>) {
      const template = compileWorkflow(workflow.node);
      const id = randomUUID();
      queue(template.queue);
      const flow = materialize(template, { id, keep });
      assertFlowSize(flow, maxJobBytes);
      await flows.add(flow);
      return new WorkflowHandle<Out>(id, template.queue, workflowHost);
    },
    async workflow(id: string) {
      for (const name of searched) {
        if (await jobExists(redis, jobKey(prefix, name, id))) return new WorkflowHandle<unknown>(id, name, workflowHost);
      }
      return undefined;
    },
    handle<T extends AnyTask>(task: T, jobId: string) {
      return new TaskHandle<TaskOutput<T>>(jobId, task, queueOf(task), host);
    },
    async getJob(jobId: string) {
      for (const name of searched) {
        const view = await readJobView(queue(name), redis, prefix, jobId);
        if (view) return view;
      }
      return undefined;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`map: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** Throws `PayloadTooLargeError` if any step of a flow carries more data than one job may. */
function assertFlowSize(flow: FlowJob, limitBytes: number): void {
  assertJobSize(`input of workflow step ${flow.name}`, flow.data, limitBytes);
  for (const child of flow.children ?? []) assertFlowSize(child, limitBytes);
}
