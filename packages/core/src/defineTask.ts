import type { z } from 'zod';
import type { TaskContract, TaskDefaults } from './taskContract.ts';
import type { Spawn } from './workflow/spawn.ts';
import type { Ref } from './objects/objectRef.ts';
import { signature, type Bound, type StepOptions, type Workflow } from './workflow/workflow.ts';

/** What a handler gets besides its input. */
export interface TaskContext {
  /** The job's id. */
  readonly jobId: string;
  /** This attempt's number, starting at 1. */
  readonly attempt: number;
  /** Fires when the attempt is cancelled or times out. */
  readonly signal: AbortSignal;
  /** Reports progress to whoever watches the job (a number or any JSON value). */
  progress(value: number | object): void;
  /**
   * The value an object reference names (`client.put`, `POST /v1/objects`), fetched once per machine into a
   * local cache that every sandbox of the machine shares, and checked against its SHA-256. A missing object
   * fails with `ObjectNotFoundError` (`OBJECT_NOT_FOUND`). Declare the field with `objectRef<T>()`.
   */
  get<T>(ref: Ref<T>): Promise<T>;
  /**
   * Stores a value (a `Buffer`, a typed array, or any value a task's output may hold) as an object owned by this
   * job, and gives its reference: return it in the output (declared with `objectRef<T>()`) to hand large data on
   * by reference. It goes when the job is removed. Written first to this machine's object cache, so the tasks
   * of this machine read it without fetching it. An output over the inline limit needs no `put`: it goes by
   * reference on its own (the claim check, `TASKPOOL_INLINE_MAX_BYTES`). Over `TASKPOOL_MAX_OBJECT_BYTES` it
   * throws `PayloadTooLargeError` and nothing is written.
   */
  put<T>(value: T): Promise<Ref<T>>;
  /**
   * Dynamic fan-out: return `ctx.spawn(workflow)` and the job starts `workflow` (e.g. a group of 500
   * signatures, or a chord that reduces them) as its child, releases its sandbox, and once the workflow is
   * done gives its output (checked by this task's output schema) as its own. A failure of the workflow is
   * this job's failure.
   */
  spawn<O>(workflow: Workflow<Bound, O>): Spawn<O>;
}

/** What a handler returns: its output, or a {@link TaskContext.spawn} whose workflow gives it. */
export type HandlerResult<Out> = Out | Spawn<Out> | Promise<Out | Spawn<Out>>;

/** A task: its name, its contract (zod input and output), its defaults and its handler. */
export interface TaskDefinition<In extends z.ZodType = z.ZodType, Out extends z.ZodType = z.ZodType> extends TaskContract<In, Out> {
  /** The handler; runs in a sandbox process. Declared as a method so every task fits `AnyTask`. */
  run(input: z.output<In>, ctx: TaskContext): HandlerResult<z.input<Out>>;
  /** A signature: this task with its input, as a workflow step (`chain`, `group`, `chord`, `client.run`). Nothing is sent. */
  with(input: z.input<In>, options?: StepOptions): Workflow<Bound, z.output<Out>>;
}

/** Any task, whatever its schemas. */
export type AnyTask = TaskDefinition<z.ZodType, z.ZodType>;
/** What a caller passes to submit a task (before zod's parse). */
export type TaskInput<T extends AnyTask> = T extends TaskDefinition<infer In, z.ZodType> ? z.input<In> : never;
/** What a caller gets back (after zod's parse of the handler's return). */
export type TaskOutput<T extends AnyTask> = T extends TaskDefinition<z.ZodType, infer Out> ? z.output<Out> : never;

/** The one place a task is declared. */
export interface TaskSpec<In extends z.ZodType, Out extends z.ZodType> {
  /** Unique name, e.g. `'math.sumSqrt'`; it is the BullMQ job name. */
  name: string;
  input: In;
  output: Out;
  defaults?: TaskDefaults<z.output<In>>;
  run: (input: z.output<In>, ctx: TaskContext) => HandlerResult<z.input<Out>>;
}

const TASK_NAME = /^[A-Za-z0-9][\w.-]{0,127}$/;

/**
 * Declares a task once; the producer, the worker and the HTTP API all derive from it.
 * Every exported `defineTask` of a task module is registered by the worker and the producer.
 */
export function defineTask<In extends z.ZodType, Out extends z.ZodType>(spec: TaskSpec<In, Out>): TaskDefinition<In, Out> {
  if (!TASK_NAME.test(spec.name)) {
    throw new TypeError(`Invalid task name ${JSON.stringify(spec.name)}: use letters, digits, '.', '_' or '-' (at most 128).`);
  }
  const task: TaskDefinition<In, Out> = Object.freeze({
    kind: 'taskpool.task' as const,
    name: spec.name,
    input: spec.input,
    output: spec.output,
    defaults: Object.freeze({ ...spec.defaults }),
    run: spec.run,
    with: (input: z.input<In>, options?: StepOptions) => signature(task, input, options),
  });
  return task;
}

/** True for a value made by {@link defineTask}. */
export function isTask(value: unknown): value is AnyTask {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'taskpool.task';
}

export { DEFAULT_QUEUE, isolationOf, queueOf, type ConcurrencyOptions, type DedupeOptions, type Isolation, type TaskContract, type TaskDefaults } from './taskContract.ts';
