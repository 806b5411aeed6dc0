import type { z } from 'zod';
import type { TaskContract, TaskDefaults } from '../taskContract.ts';
import type { SerializedError } from '../serializeError.ts';

/**
 * What a group (or a chord's header) does when a member fails for good:
 * - `fail` (the default): the group fails at once with that member's error; members not started are
 *   removed and running ones cancelled. Nothing waits for ever.
 * - `collect`: the group waits for every member and gives `{ ok: true, value } | { ok: false, error }` per
 *   member, in order.
 * - `ignore`: the group waits for every member and gives the outputs of those that succeeded, in order.
 */
export type ChildFailurePolicy = 'fail' | 'collect' | 'ignore';

/** One member's outcome under the `collect` policy. */
export type StepOutcome<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

/** Per-step overrides of a task's defaults (see `TaskDefaults`). */
export type StepOptions = Pick<TaskDefaults, 'attempts' | 'backoff' | 'priority' | 'timeoutMs'>;

/** The input type of a workflow that was given all its inputs (e.g. `task.with(input)`): it ignores any other. */
export interface Bound {
  readonly 'taskpool.bound': true;
}

/** Callbacks of a step, run as tasks (Celery's `link` and `link_error`). */
export interface StepHooks {
  onSuccess: readonly TaskContract[];
  onFailure: readonly TaskContract[];
}

/** A workflow's structure, as the builders made it. */
export type WorkflowNode = TaskStep | ChainStep | GroupStep | ChordStep;

/** A task, given its input (`bound`) or taking the previous step's output. */
export interface TaskStep {
  readonly type: 'task';
  readonly task: TaskContract;
  readonly bound: boolean;
  readonly input?: unknown;
  readonly options: StepOptions;
  readonly hooks: StepHooks;
}

/** Steps one after another, each given the previous one's output. */
export interface ChainStep {
  readonly type: 'chain';
  readonly steps: readonly WorkflowNode[];
  readonly hooks: StepHooks;
}

/** Members run in parallel; the output is their outputs in order. */
export interface GroupStep {
  readonly type: 'group';
  readonly members: readonly WorkflowNode[];
  readonly onChildFailure: ChildFailurePolicy;
  readonly hooks: StepHooks;
}

/** A group whose ordered outputs are given to a callback (fan-in). */
export interface ChordStep {
  readonly type: 'chord';
  readonly header: GroupStep;
  readonly callback: WorkflowNode;
  readonly hooks: StepHooks;
}

/** What an `onFailure` callback task is given. */
export interface FailureInfo {
  /** The workflow's id (its root job's id). */
  workflowId: string;
  /** The job that failed. */
  jobId: string;
  /** Its task's name (`$group` or `$spawn` for a group or a fan-out step). */
  task: string;
  error: SerializedError;
}

/** A workflow, or a task used as a step (it then takes the previous step's output). */
export type WorkflowLike = Workflow<never, unknown> | TaskContract;

/** The input a workflow-like takes: {@link Bound} if it needs none. */
export type InputOf<W> = W extends Workflow<infer I, unknown> ? I : W extends TaskContract<infer I, z.ZodType> ? z.input<I> : never;
/** The output a workflow-like gives. */
export type OutputOf<W> = W extends Workflow<never, infer O> ? O : W extends TaskContract<z.ZodType, infer O> ? z.output<O> : never;

/** Reported where a step cannot take what the previous step gives. */
export interface StepMismatch<Given, Expected> {
  readonly 'this step cannot take the previous output': { given: Given; expected: Expected };
}

type Accepts<In, Given> = [In] extends [Bound] ? true : [Given] extends [In] ? true : false;
type Checked<W, Given> = Accepts<InputOf<W>, Given> extends true ? W : StepMismatch<Given, InputOf<W>>;
type CheckSteps<S extends readonly unknown[], Given> = S extends readonly [infer H, ...infer R] ? [Checked<H, Given>, ...CheckSteps<R, OutputOf<H>>] : [];
/** A chain's steps, each checked against the previous one's output. */
export type CheckChain<S extends readonly unknown[]> = S extends readonly [infer H, ...infer R] ? [H, ...CheckSteps<R, OutputOf<H>>] : S;
type Last<S extends readonly unknown[]> = S extends readonly [...unknown[], infer L] ? L : never;

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** The input of a group: {@link Bound} if every member is bound, else what every unbound member accepts. */
export type GroupInput<M extends readonly unknown[]> = [Exclude<InputOf<M[number]>, Bound>] extends [never]
  ? Bound
  : UnionToIntersection<Exclude<InputOf<M[number]>, Bound>>;
type Outputs<M extends readonly unknown[]> = { -readonly [K in keyof M]: OutputOf<M[K]> };
type Outcomes<M extends readonly unknown[]> = { -readonly [K in keyof M]: StepOutcome<OutputOf<M[K]>> };

const NO_HOOKS: StepHooks = Object.freeze({ onSuccess: [], onFailure: [] });

/**
 * A workflow: tasks and how their outputs flow (`chain`, `group`, `chord`), typed by what it takes (`In`,
 * {@link Bound} when it needs nothing) and what it gives (`Out`). Nothing is sent until `client.run()`.
 */
export class Workflow<In, Out> {
  /** Phantom: what the workflow takes (contravariant). */
  declare readonly __input: (input: In) => void;
  /** Phantom: what it gives. */
  declare readonly __output: () => Out;

  constructor(readonly node: WorkflowNode) {}

  /**
   * Runs `task` with this workflow's output once it succeeds (Celery's `link`); the callback is a job of its
   * own, not part of the workflow's result.
   */
  onSuccess<T extends TaskContract>(task: T & Checked<T, Out>): Workflow<In, Out> {
    return new Workflow(withHooks(this.node, { onSuccess: [task as TaskContract] }));
  }

  /**
   * Runs `task` with a {@link FailureInfo} if this workflow fails for good (Celery's `link_error`); its input
   * schema must accept one (e.g. `failureInfoSchema`).
   */
  onFailure<T extends TaskContract>(task: T & Checked<T, FailureInfo>): Workflow<In, Out> {
    return new Workflow(withHooks(this.node, { onFailure: [task as TaskContract] }));
  }
}

/** A task with its input given: the start of a chain, or a member of a group. */
export function signature<T extends TaskContract>(task: T, input: z.input<T['input']>, options: StepOptions = {}): Workflow<Bound, OutputOf<T>> {
  return new Workflow({ type: 'task', task, bound: true, input, options: { ...options }, hooks: NO_HOOKS });
}

/** The node of a workflow-like: a bare task becomes a step that takes the previous output. */
export function nodeOf(step: WorkflowLike): WorkflowNode {
  if (step instanceof Workflow) return step.node;
  return { type: 'task', task: step, bound: false, options: {}, hooks: NO_HOOKS };
}

/**
 * Steps one after another: each step is given the previous step's output (a step whose input type does not
 * accept it does not compile), except a bound one (`task.with(...)`), which only runs after it. The output is
 * the last step's. If a step fails for good, later steps never run and the chain fails with that error.
 */
export function chain<const S extends readonly [WorkflowLike, ...WorkflowLike[]]>(...steps: S & CheckChain<S>): Workflow<InputOf<S[0]>, OutputOf<Last<S>>> {
  const nodes = (steps as readonly WorkflowLike[]).map(nodeOf);
  return new Workflow({ type: 'chain', steps: nodes, hooks: NO_HOOKS });
}

/** Options of {@link group}. */
export interface GroupOptions<P extends ChildFailurePolicy = ChildFailurePolicy> {
  /** See {@link ChildFailurePolicy}. Default: `'fail'`. */
  onChildFailure?: P;
}

/**
 * Members run in parallel; the output is the array of their outputs, in member order (with `collect`, one
 * {@link StepOutcome} per member; with `ignore`, the outputs of those that succeeded). Unbound members are
 * each given the group's input.
 */
export function group<const M extends readonly WorkflowLike[]>(members: M, options?: GroupOptions<'fail'>): Workflow<GroupInput<M>, Outputs<M>>;
export function group<const M extends readonly WorkflowLike[]>(members: M, options: GroupOptions<'collect'>): Workflow<GroupInput<M>, Outcomes<M>>;
export function group<const M extends readonly WorkflowLike[]>(members: M, options: GroupOptions<'ignore'>): Workflow<GroupInput<M>, OutputOf<M[number]>[]>;
export function group(members: readonly WorkflowLike[], options: GroupOptions = {}): Workflow<unknown, unknown> {
  if (members.length === 0) throw new TypeError('group: give at least one member');
  return new Workflow({ type: 'group', members: members.map(nodeOf), onChildFailure: options.onChildFailure ?? 'fail', hooks: NO_HOOKS });
}

/**
 * A group and a callback given the group's output (fan-in aggregation): with the group's failure policy,
 * the callback gets the ordered outputs, the outcomes (`collect`) or the successful outputs (`ignore`).
 */
export function chord<H extends Workflow<never, unknown>, C extends WorkflowLike>(
  header: H,
  callback: C & Checked<C, OutputOf<H>>,
): Workflow<InputOf<H>, OutputOf<C>> {
  const node = header.node;
  if (node.type !== 'group') throw new TypeError('chord: the header must be a group');
  return new Workflow({ type: 'chord', header: node, callback: nodeOf(callback as WorkflowLike), hooks: NO_HOOKS });
}

function withHooks(node: WorkflowNode, add: Partial<StepHooks>): WorkflowNode {
  const hooks: StepHooks = {
    onSuccess: [...node.hooks.onSuccess, ...(add.onSuccess ?? [])],
    onFailure: [...node.hooks.onFailure, ...(add.onFailure ?? [])],
  };
  return { ...node, hooks };
}
