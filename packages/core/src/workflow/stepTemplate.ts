import type { FlowJob } from 'bullmq';
import type { KeepPolicy, TaskJobOptions } from '../client/jobOptions.ts';
import { stepJobData, type StepJobData } from '../store/jobData.ts';
import type { EncodedValue } from '../valueCodec.ts';
import type { RefCarried } from '../store/jobData.ts';
import type { ChildFailurePolicy } from './workflow.ts';

/**
 * The data of a workflow step's job: `{ v: 1, kind: 'step', wf: meta, input? }` (see `jobData.ts`). `input` is
 * the task's input when the step was given one; otherwise the worker builds it from the step's children (see
 * {@link StepMeta.from}).
 */
export type StepData = StepJobData<StepMeta>;

/**
 * How the worker runs a workflow step. Absent fields take their defaults, to keep big fan-outs small. The
 * workflow's id is not stored: it is the step's job id up to the first `.` (see {@link workflowIdOf}).
 */
export interface StepMeta {
  /** `task` (default): runs its task; `group`: gives its children's outputs; `spawn`: starts `sub` with its child's output. */
  kind?: 'group' | 'spawn';
  /** Where a task step's input comes from: `data.input` (default), its one child's output, or its children's outputs in order. */
  from?: 'child' | 'children';
  /** What a failed child does to this step (default `fail`). */
  policy?: ChildFailurePolicy;
  /** Children, ids `<this id>.<index>` (default 0). */
  count?: number;
  /** `spawn`: the workflow it starts, as child `<this id>.s`. */
  sub?: StepTemplate;
  /** Tasks run with the output once the step succeeds. */
  onSuccess?: StepTemplate[];
  /** Tasks run with a `FailureInfo` if the step fails for good. */
  onFailure?: StepTemplate[];
  /** Set once the step has started child `<this id>.s` (a `spawn` step, or `ctx.spawn()`): the step then gives that child's output. */
  spawned?: true;
}

/** The job options a step carries (attempts, backoff, priority, time limit, and how its parent takes its failure). */
export type StepJobOptions = Pick<TaskJobOptions, 'attempts' | 'backoff' | 'priority' | 'timeoutMs' | 'continueParentOnFailure' | 'ignoreDependencyOnFailure'>;

/**
 * A compiled workflow, not yet sent: a tree of jobs without ids. Children are ordered; a `takesInput` step
 * is given the input the tree is sent with. Plain JSON, so a sandbox can compile a workflow and hand it to
 * its worker (`ctx.spawn`).
 */
export interface StepTemplate {
  name: string;
  queue: string;
  data: StepData;
  opts: StepJobOptions;
  children?: StepTemplate[];
  takesInput?: true;
}

/** Where a tree is sent: its root's id, the keep policy and the (encoded) input of its `takesInput` steps. */
export interface Placement {
  id: string;
  keep: KeepPolicy;
  input?: EncodedValue | RefCarried;
}

/** The BullMQ flow of a template: ids `<id>.<index>` down the tree. */
export function materialize(template: StepTemplate, at: Placement): FlowJob {
  const data: StepData = template.takesInput ? stepJobData(template.data.wf, at.input) : template.data;
  const opts = {
    ...template.opts,
    jobId: at.id,
    removeOnComplete: { age: at.keep.completedSeconds },
    removeOnFail: { age: at.keep.failedSeconds },
  };
  const flow: FlowJob = { name: template.name, queueName: template.queue, data, opts };
  if (template.children) {
    return { ...flow, children: template.children.map((child, index) => materialize(child, { ...at, id: childId(at.id, index) })) };
  }
  return flow;
}

/** The id of a step's child: `<parent>.<index>`, or `<parent>.s` for the workflow a step started. */
export function childId(parentId: string, index: number | 's'): string {
  return `${parentId}.${index}`;
}

/** A child's place under its parent: its index, or `'s'` for the workflow the parent started (see {@link childId}). */
export function childIndex(parentId: string, childJobId: string): number | 's' {
  const suffix = childJobId.slice(parentId.length + 1);
  return suffix === 's' ? 's' : Number(suffix);
}

/**
 * The id of the workflow a job belongs to: its id up to the first `.` (a workflow's root has a UUID for id;
 * its steps, spawned workflows and callbacks `<root>.<index>...`, `<id>.s`, `<id>.ok0`).
 */
export function workflowIdOf(jobId: string): string {
  const dot = jobId.indexOf('.');
  return dot === -1 ? jobId : jobId.slice(0, dot);
}

/** The job options under which a child's failure reaches its parent as the parent's policy says. */
export function childFailureOptions(policy: ChildFailurePolicy): StepJobOptions {
  // `continueParentOnFailure` wakes the parent at the first failure, so it fails at once (BullMQ's own
  // `failParentOnFailure` leaves the parent's siblings running and reports only "child ... failed").
  return policy === 'fail' ? { continueParentOnFailure: true } : { ignoreDependencyOnFailure: true };
}
