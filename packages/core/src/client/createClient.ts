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
import { idempotentJobId, jobOptions, keepPolicy, type KeepPolicy, type SubmitOptions, type TaskJobOptions } from './jobOptions.ts';
import { readJobView, type JobView } from './jobView.ts';
import { MapExecution, type MapHost, type MapItem } from './mapExecution.ts';
import { MapRun, type MapInputs, type MapOptions } from './mapRun.ts';
import { queueCache } from './queueCache.ts';
import { SubmitBatcher } from './submitBatcher.ts';
import { GateEntries, gateLimitsOf, taskGate } from '../flowControl/taskGate.ts';
import { submitFlow } from '../flowControl/submitFlow.ts';
import { watchConnection } from './connectionWatch.ts';
import { DEFAULT_SUBMIT_RETRY_MS, failOnDisconnect, retryOnDisconnect } from './retryOnDisconnect.ts';
import { TaskHandle, type HandleHost } from './taskHandle.ts';
import { asCompleted, waitHandles, type WaitHandlesOptions, type WaitHandlesResult } from './waitHandles.ts';
import { WorkflowHandle, type WorkflowHost } from './workflowHandle.ts';
import { addWorkflowOnce, idempotentWorkflowId, type RunOptions } from './idempotentRun.ts';
import { compileWorkflow } from '../workflow/compileWorkflow.ts';
import { materialize } from '../workflow/stepTemplate.ts';
import { sameStoredData, storesRef } from './sameStoredData.ts';
import { claimCheck, retriedTarget } from '../objects/claimCheck.ts';
import { claimCheckFlow } from './claimCheckFlow.ts';
import type { Bound, Workflow } from '../workflow/workflow.ts';
import { CountedFlowProducer } from '../store/countedQueue.ts';
import { jobKey } from '../store/jobKeys.ts';
import { jobExists, readStoredData } from '../store/jobReads.ts';
import type { Ref } from '../objects/objectRef.ts';
import { createObjectAccess, type ObjectAccess, type ObjectOptions, type PutOptions } from '../objects/objectAccess.ts';

export type { SubmitOptions } from './jobOptions.ts';
export type { RunOptions } from './idempotentRun.ts';

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
  /**
   * How long a submit (`submit`, `run`) goes on retrying while Redis is unreachable (a restart, a failover, a
   * dropped connection) before it throws `RedisUnavailableError` (code `REDIS_UNAVAILABLE`, the last
   * connection error seen as its `cause`). It tries again as soon as the connection is back (the connection
   * itself reconnects at least every second), else with backoff from 50 ms to 2 s; no attempt starts after
   * the bound. A retry can never enqueue twice: the job ids are made before the first attempt, and BullMQ ignores
   * an add whose id exists. 0 turns retries off. Every other call that needs Redis (`getJob`,
   * `handle.status()`, `cancel()`...) throws `RedisUnavailableError` at once. A map's adds retry for at least
   * 30 s. Default: 5000 ms.
   */
  submitRetryMs?: number;
  /** Where `put` keeps objects by reference: Redis, and a shared directory for big ones (see {@link ObjectOptions}). */
  objects?: ObjectOptions;
}

/** Submits tasks and reads their jobs. */
export interface TaskpoolClient {
  /**
   * Validates the input (nothing is written to Redis if it is invalid), enqueues it, and returns a handle.
   * Submits made in the same tick (e.g. in a `Promise.all`) are sent to Redis together, in one pipeline per
   * queue; each resolves or rejects on its own.
   * With `idempotencyKey`, a second submit returns the first job (see {@link SubmitOptions.idempotencyKey}).
   * While Redis is unreachable it retries, then throws `RedisUnavailableError` (see {@link ClientOptions.submitRetryMs}).
   */
  submit<T extends AnyTask>(task: T, input: TaskInput<T>, options?: SubmitOptions): Promise<TaskHandle<TaskOutput<T>>>;
  /**
   * Runs a task over many inputs, `chunkSize` per job (by default sized by measurement, see
   * {@link MapOptions.chunkSize}) and at most `window` jobs in flight, and yields the results in input order
   * (or as they finish); see {@link MapRun} and {@link MapOptions}.
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
   * finish; see {@link WorkflowHandle}. A step that can never take what the step before gives is refused
   * first too (`StepTypeMismatchError`). With `idempotencyKey`, a second run returns the first workflow
   * (see {@link RunOptions.idempotencyKey}).
   */
  run<Out>(workflow: Workflow<Bound, Out>, options?: RunOptions): Promise<WorkflowHandle<Out>>;
  /** A handle for a workflow sent earlier (by any client), searched in every known queue. */
  workflow(id: string): Promise<WorkflowHandle<unknown> | undefined>;
  /** A handle for a job submitted earlier (by any client). */
  handle<T extends AnyTask>(task: T, jobId: string): TaskHandle<TaskOutput<T>>;
  /** A job's view, searched in every known queue. */
  getJob(jobId: string): Promise<JobView | undefined>;
  /**
   * Stores a value once and gives a small reference to pass in task inputs instead of the data (Python's
   * `shared_memory`, Ray's `ray.put`): a stream of bytes, a `Buffer`, a typed array, or any value a task's input
   * may hold. It lives until `ttlMs` or {@link delete}. Objects go to Redis, or to `objects.dir` when they are big
   * (see {@link ClientOptions.objects}); above `objects.maxBytes` the put throws `PayloadTooLargeError` and writes nothing.
   */
  put: ObjectAccess['put'];
  /** The value a reference names, its size and SHA-256 checked (`ObjectNotFoundError`, `ObjectCorruptError`). */
  get<T>(ref: Ref<T>): Promise<T>;
  /** Deletes the object a reference names; true if it was there. */
  delete(ref: Ref): Promise<boolean>;
  /** An object's bytes by its id alone, checked; undefined when no store holds it (see {@link ObjectAccess.bytesOf}). */
  objectBytes(id: string): Promise<Buffer | undefined>;
  /** Closes every connection. Waits still pending (results, maps) reject with `ClientClosedError`; the jobs go on. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates a client. Its command connection fails fast when Redis is away: submits retry for
 * `submitRetryMs`, every other call throws `RedisUnavailableError` at once.
 */
export function createClient(options: ClientOptions): TaskpoolClient {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const maxJobBytes = options.maxJobBytes ?? DEFAULT_MAX_JOB_BYTES;
  const submitRetryMs = nonNegative('submitRetryMs', options.submitRetryMs ?? DEFAULT_SUBMIT_RETRY_MS);
  checkClusterPrefix(options.redisUrl, prefix);
  const redis = createRedisConnection(options.redisUrl, 'producer');
  // BullMQ's queues and flow producer get a connection of their own: BullMQ defines its Lua commands on the
  // connection it is given, and ioredis copies them into every pipeline made on it (~100 µs each; see startWorker.ts).
  const queueRedis = createRedisConnection(options.redisUrl, 'producer');
  const connection = watchConnection(redis, queueRedis);
  const searched = new Set([DEFAULT_QUEUE, ...(options.queues ?? [])]);
  const keep: KeepPolicy = keepPolicy(options.keep);
  const errors = new ErrorRegistry();
  for (const type of options.errors ?? []) errors.register(type);

  const queue = queueCache(queueRedis, prefix, { onCreate: (name) => searched.add(name), counts: redis });
  const adds = new SubmitBatcher(queue);
  const gateEntries = new GateEntries();
  const watcher = new CompletionWatcher({
    redis,
    queue,
    connect: () => createRedisConnection(options.redisUrl, 'worker'),
    ...(options.sweepMs !== undefined && { sweepMs: options.sweepMs }),
  });
  const objects = createObjectAccess(redis, prefix, options.objects);
  const getObject = (ref: Ref): Promise<unknown> => failOnDisconnect(() => objects.get(ref), connection);
  const host: HandleHost & MapHost = {
    watcher,
    errors,
    queue,
    objects,
    getObject,
    view: (q, id) => failOnDisconnect(() => readJobView(queue(q), redis, prefix, id), connection),
    cancel: (q, jobId) => failOnDisconnect(() => cancelTask(queue(q), redis, { jobId, prefix, markerTtlSeconds: keep.failedSeconds }), connection),
  };
  let closed = false;
  /** Runs a write that may be repeated (its job ids are fixed) again while Redis is unreachable, for up to `submitRetryMs`. */
  const retried = <T>(write: () => Promise<T>): Promise<T> => retryOnDisconnect(write, { forMs: submitRetryMs, stopped: () => closed, connection });

  /** Where a big input goes (the claim check): stored, retried while Redis is unreachable, as the add is. */
  const claimTarget = retriedTarget(objects, retried);
  const replicas = new ReplicaConfirmer(() => createRedisConnection(options.redisUrl, 'producer'), prefix);
  const flows = new CountedFlowProducer({ connection: queueRedis, counts: redis, prefix });
  flows.on('error', () => undefined);
  const workflowHost: WorkflowHost = {
    watcher,
    errors,
    redis,
    connection,
    prefix,
    cancelTtlSeconds: keep.failedSeconds,
    cancel: host.cancel,
    getObject,
  };

  const close = async (): Promise<void> => {
    closed = true;
    watcher.close();
    await flows.close();
    await queue.closeAll();
    await replicas.close();
    await Promise.all([redis, queueRedis].map((c) => c.quit().catch(() => c.disconnect())));
  };

  return {
    async submit<T extends AnyTask>(task: T, input: TaskInput<T>, submitOptions: SubmitOptions = {}) {
      const name = queueOf(task);
      const key = submitOptions.idempotencyKey;
      const jobId = key === undefined ? randomUUID() : idempotentJobId(task.name, key);
      // Checked, and stored as given but for what the schema drops: the sandbox parses it, once. A big input
      // is stored as an object owned by the job, and the job carries its reference (the claim check).
      const prepared = prepareInput(task, input);
      // Its dedupe key, and for a task with concurrency limits, the gate it waits in (flowControl/submitFlow.ts).
      const flow = submitFlow(task, prepared, submitOptions);
      const carried = await claimCheck(prepared, claimTarget, { queue: name, jobId });
      const data = taskJobData(carried);
      assertJobSize(`input of task ${task.name}`, data, maxJobBytes);
      queue(name); // known to getJob at once
      const durable = durableWait(submitOptions.durable);
      // A new job (not an idempotent one, which may exist and be done): its result() need not read it first.
      const watched = key === undefined && watcher.watch(name, jobId);
      let heldBy: string;
      try {
        // The id is made before the first attempt: a retry after an add that landed is ignored by BullMQ.
        // Pipelined: the submits of one tick go to Redis together (see SubmitBatcher), each settling on its own.
        const job = { name: task.name, data, opts: { ...jobOptions(task.defaults, submitOptions, keep), jobId, ...flow.jobOptions } };
        heldBy = await retried(() => adds.add(name, job));
        await replicas.confirm(durable, { jobId, jobKeys: [jobKey(prefix, name, jobId)] });
      } catch (error) {
        if (watched) watcher.unwatch(name, jobId);
        throw error;
      }
      if (heldBy !== jobId) {
        // Deduplicated: an earlier submit's job holds the key. Nothing of this submit was kept but its input object.
        if (watched) watcher.unwatch(name, jobId);
        if ('ref' in carried) await objects.delete(carried.ref).catch(() => false);
        return new TaskHandle<TaskOutput<T>>(heldBy, task, name, host);
      }
      const { gate } = flow;
      if (gate) await retried(() => gateEntries.enter(taskGate(redis, prefix, name, task.name, gate.limits), queue(name), { key: gate.key, id: jobId }));
      if (key !== undefined) {
        // BullMQ kept the first job if the id existed: whichever submit won, the loser sees another input.
        const [stored] = await retried(() => readStoredData(redis, [jobKey(prefix, name, jobId)]));
        // The first submit's input object is the job's: a repeat's own copy goes at once.
        if ('ref' in carried && stored && !storesRef(stored, carried.ref)) await objects.delete(carried.ref).catch(() => false);
        if (stored !== null && stored !== undefined && !sameStoredData(stored, data)) throw new IdempotencyConflictError(jobId);
      }
      return new TaskHandle<TaskOutput<T>>(jobId, task, name, host);
    },
    map(task: AnyTask, inputs: MapInputs<unknown>, mapOptions: MapOptions = {}) {
      if (gateLimitsOf(task)) throw new TypeError(`Task ${task.name} has concurrency limits: map does not apply them yet; submit each input`);
      const options = jobOptions(task.defaults, mapOptions, keep);
      const chunkSize = mapChunkSize(mapOptions.chunkSize ?? 'auto', options, mapOptions.timeoutMs ?? task.defaults.timeoutMs);
      const window = mapOptions.window === undefined ? undefined : positiveInteger('window', mapOptions.window);
      const execution = new MapExecution(host, {
        task,
        queue: queueOf(task),
        jobOptions: options,
        chunkSize,
        window,
        maxJobBytes,
        submitRetryMs,
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
    async run<Out>(workflow: Workflow<Bound, Out>, runOptions: RunOptions = {}) {
      const template = compileWorkflow(workflow.node);
      const key = runOptions.idempotencyKey;
      const id = key === undefined ? randomUUID() : idempotentWorkflowId(key);
      queue(template.queue);
      const flow = materialize(template, { id, keep });
      // Every step's id is fixed by materialize, and the flow is one MULTI: a repeat adds no step twice.
      // Big bound inputs go by reference (the claim check), stored only when the flow is about to be added.
      const add = async (job: FlowJob) => {
        const checked = await claimCheckFlow(job, claimTarget);
        assertFlowSize(checked, maxJobBytes);
        return retried(() => flows.add(checked));
      };
      if (key === undefined) {
        await add(flow);
        return new WorkflowHandle<Out>(id, template.queue, workflowHost);
      }
      const { replayed } = await addWorkflowOnce({ redis, prefix, queues: searched, add, retried }, flow, template);
      return new WorkflowHandle<Out>(id, template.queue, workflowHost, replayed);
    },
    workflow: (id: string) =>
      failOnDisconnect(async () => {
        for (const name of searched) {
          if (await jobExists(redis, jobKey(prefix, name, id))) return new WorkflowHandle<unknown>(id, name, workflowHost);
        }
        return undefined;
      }, connection),
    handle<T extends AnyTask>(task: T, jobId: string) {
      return new TaskHandle<TaskOutput<T>>(jobId, task, queueOf(task), host);
    },
    getJob: (jobId: string) =>
      failOnDisconnect(async () => {
        for (const name of searched) {
          const view = await readJobView(queue(name), redis, prefix, jobId);
          if (view) return view;
        }
        return undefined;
      }, connection),
    put: ((value: unknown, putOptions?: PutOptions) => failOnDisconnect(() => objects.put(value, putOptions), connection)) as ObjectAccess['put'],
    get: (ref) => failOnDisconnect(() => objects.get(ref), connection),
    delete: (ref) => failOnDisconnect(() => objects.delete(ref), connection),
    objectBytes: (id) => failOnDisconnect(() => objects.bytesOf(id), connection),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`createClient: ${name} must be a number >= 0, got ${value}`);
  return value;
}

/**
 * A map's chunk size: a positive integer, or `'auto'`; `'auto'` sends one item per job when a chunk would
 * change what an item's job does: retries (attempts above 1) and a timeout apply to a whole chunk job.
 */
function mapChunkSize(chunkSize: number | 'auto', options: TaskJobOptions, timeoutMs: number | undefined): number | 'auto' {
  if (chunkSize !== 'auto') return positiveInteger('chunkSize', chunkSize);
  return (options.attempts ?? 1) > 1 || timeoutMs !== undefined ? 1 : 'auto';
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
