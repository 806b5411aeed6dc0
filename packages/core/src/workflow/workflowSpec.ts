import { z } from 'zod';
import type { AnyTask } from '../defineTask.ts';
import { InvalidWorkflowError, UnknownTaskError } from '../errors.ts';
import { stepOptionsSchema } from '../jobOptionsSchema.ts';
import { Workflow, type Bound, type ChildFailurePolicy, type GroupStep, type StepHooks, type StepOptions, type WorkflowNode } from './workflow.ts';

/**
 * A workflow as JSON (the HTTP API's `POST /v1/workflows`), by task name:
 * - `{ "task": "math.square", "input": { "n": 3 } }`: a task given its input; without `input` it takes the
 *   previous step's output;
 * - `{ "chain": [step, ...] }`, `{ "group": [step, ...], "onChildFailure": "collect" }`,
 *   `{ "chord": { "header": [step, ...], "onChildFailure": "fail", "callback": step } }`;
 * - any of them may add `"onSuccess": ["task", ...]` and `"onFailure": ["task", ...]`.
 */
export type WorkflowSpec = (
  | { task: string; input?: unknown; options?: StepOptions }
  | { chain: WorkflowSpec[] }
  | { group: WorkflowSpec[]; onChildFailure?: ChildFailurePolicy }
  | { chord: { header: WorkflowSpec[]; onChildFailure?: ChildFailurePolicy; callback: WorkflowSpec } }
) & { onSuccess?: string[]; onFailure?: string[] };

const policy = z.enum(['fail', 'collect', 'ignore']);
const hooks = { onSuccess: z.array(z.string()).optional(), onFailure: z.array(z.string()).optional() };

/** The zod schema of a {@link WorkflowSpec} (at most 10,000 members per group). */
export const workflowSpecSchema: z.ZodType<WorkflowSpec> = z.lazy(() =>
  z.union([
    z.strictObject({ task: z.string().min(1), input: z.unknown().optional(), options: stepOptionsSchema.optional(), ...hooks }),
    z.strictObject({ chain: z.array(workflowSpecSchema).min(1).max(1_000), ...hooks }),
    z.strictObject({ group: z.array(workflowSpecSchema).min(1).max(10_000), onChildFailure: policy.optional(), ...hooks }),
    z.strictObject({
      chord: z.strictObject({ header: z.array(workflowSpecSchema).min(1).max(10_000), onChildFailure: policy.optional(), callback: workflowSpecSchema }),
      ...hooks,
    }),
  ]),
) as z.ZodType<WorkflowSpec>;

/**
 * Builds the workflow a (parsed) spec describes, with the tasks looked up by name. Throws
 * `UnknownTaskError` for a name that is not a task, and `InvalidWorkflowError` for a spec that cannot run as
 * it is (e.g. its first step takes an input).
 */
export function workflowFromSpec(spec: WorkflowSpec, lookup: (name: string) => AnyTask | undefined): Workflow<Bound, unknown> {
  const taskNamed = (name: string): AnyTask => {
    const task = lookup(name);
    if (!task) throw new UnknownTaskError(name);
    return task;
  };
  const hooksOf = (s: WorkflowSpec): StepHooks => ({ onSuccess: (s.onSuccess ?? []).map(taskNamed), onFailure: (s.onFailure ?? []).map(taskNamed) });
  const groupOf = (members: WorkflowSpec[], onChildFailure: ChildFailurePolicy | undefined, h: StepHooks): GroupStep => ({
    type: 'group',
    members: members.map(build),
    onChildFailure: onChildFailure ?? 'fail',
    hooks: h,
  });
  function build(s: WorkflowSpec): WorkflowNode {
    const h = hooksOf(s);
    if ('task' in s) {
      const bound = 'input' in s;
      return { type: 'task', task: taskNamed(s.task), bound, ...(bound && { input: s.input }), options: s.options ?? {}, hooks: h };
    }
    if ('chain' in s) return { type: 'chain', steps: s.chain.map(build), hooks: h };
    if ('group' in s) return groupOf(s.group, s.onChildFailure, h);
    if ('chord' in s) {
      const empty: StepHooks = { onSuccess: [], onFailure: [] };
      return { type: 'chord', header: groupOf(s.chord.header, s.chord.onChildFailure, empty), callback: build(s.chord.callback), hooks: h };
    }
    throw new InvalidWorkflowError('A workflow step needs one of task, chain, group or chord');
  }
  return new Workflow<Bound, unknown>(build(spec));
}
