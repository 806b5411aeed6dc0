import { attemptOptions } from '../client/jobOptions.ts';
import { queueOf, type TaskContract } from '../taskContract.ts';
import { InvalidWorkflowError } from '../errors.ts';
import { stepJobData } from '../store/jobData.ts';
import { prepareInput } from '../parseTaskIO.ts';
import { checkStepTypes } from './checkStepTypes.ts';
import { childFailureOptions, type StepJobOptions, type StepMeta, type StepTemplate } from './stepTemplate.ts';
import type { ChildFailurePolicy, ChordStep, GroupStep, StepHooks, TaskStep, WorkflowNode } from './workflow.ts';

/** Group and fan-out steps run no task; a Redis hiccup while they run is worth a retry. */
const SYNTHETIC_OPTIONS: StepJobOptions = { attempts: 3, backoff: { type: 'exponential', delay: 1_000 } };

/**
 * Compiles a workflow into a tree of BullMQ jobs (a flow: a parent runs once its children are done, with
 * their outputs), by these rules:
 * - a task given its input is a leaf; a chain step is the parent of the step before it;
 * - a group is a `$group` step whose ordered children are its members;
 * - a chord is its callback's step with the members as ordered children;
 * - a group or chord after a chain step cannot be a static tree (several steps need one output): it becomes
 *   a `$spawn` step, parent of the step before, which starts the group with that output when it runs.
 * With `takesInput`, the steps at the head of the workflow take the input the tree is sent with.
 * Throws {@link InvalidWorkflowError} if a step needs an input that nothing gives it, and its subclass
 * `StepTypeMismatchError` if a step can never take what the step before gives (see `checkStepTypes.ts`).
 */
export function compileWorkflow(node: WorkflowNode, takesInput = false): StepTemplate {
  const template = compileHead(node, takesInput);
  checkStepTypes(node);
  return template;
}

function compileHead(node: WorkflowNode, head: boolean): StepTemplate {
  switch (node.type) {
    case 'task':
      if (!node.bound && !head) {
        throw new InvalidWorkflowError(`Step ${node.task.name} takes an input and nothing gives it one: start the workflow with task.with(input)`);
      }
      return withHooks(taskTemplate(node, node.bound ? {} : undefined, []), node.hooks);
    case 'chain': {
      const [first, ...rest] = node.steps;
      if (!first) throw new InvalidWorkflowError('A chain needs at least one step');
      return withHooks(rest.reduce(compileAfter, compileHead(first, head)), node.hooks);
    }
    case 'group':
      return withHooks(groupTemplate(node, head), node.hooks);
    case 'chord':
      return withHooks(chordTemplate(node, head), node.hooks);
  }
}

/** `node` run after `previous`, taking its output. */
function compileAfter(previous: StepTemplate, node: WorkflowNode): StepTemplate {
  switch (node.type) {
    case 'task':
      return withHooks(taskTemplate(node, node.bound ? { count: 1 } : { from: 'child', count: 1 }, [failing(previous, 'fail')]), node.hooks);
    case 'chain':
      return withHooks(node.steps.reduce(compileAfter, previous), node.hooks);
    case 'group':
    case 'chord':
      return spawnTemplate(previous, compileHead(node, true));
  }
}

function chordTemplate(node: ChordStep, head: boolean): StepTemplate {
  const { header, callback } = node;
  if (callback.type !== 'task' || header.hooks.onSuccess.length > 0 || header.hooks.onFailure.length > 0) {
    return compileAfter(withHooks(groupTemplate(header, head), header.hooks), callback);
  }
  const members = header.members.map((member) => failing(compileHead(member, head), header.onChildFailure));
  const meta: StepMeta = { count: members.length, ...policyOf(header.onChildFailure), ...(!callback.bound && { from: 'children' as const }) };
  return withHooks(taskTemplate(callback, meta, members), callback.hooks);
}

function groupTemplate(node: GroupStep, head: boolean): StepTemplate {
  const children = node.members.map((member) => failing(compileHead(member, head), node.onChildFailure));
  return {
    name: '$group',
    queue: children[0]!.queue,
    data: stepJobData<StepMeta>({ kind: 'group', count: children.length, ...policyOf(node.onChildFailure) }),
    opts: SYNTHETIC_OPTIONS,
    children,
  };
}

function spawnTemplate(previous: StepTemplate, sub: StepTemplate): StepTemplate {
  return {
    name: '$spawn',
    queue: previous.queue,
    data: stepJobData<StepMeta>({ kind: 'spawn', from: 'child', count: 1, sub }),
    opts: SYNTHETIC_OPTIONS,
    children: [failing(previous, 'fail')],
  };
}

/** A task step; `meta` undefined: it takes the input the tree is sent with. */
function taskTemplate(node: TaskStep, meta: StepMeta | undefined, children: StepTemplate[]): StepTemplate {
  // A workflow's steps are added as one BullMQ flow, which the admission gate does not see (see flowControl/taskGate.ts).
  if (node.task.defaults.concurrency) throw new InvalidWorkflowError(`Task ${node.task.name} has concurrency limits: workflows do not apply them yet; submit it on its own`);
  // Checked before anything reaches Redis; stored as given, pruned to what the schema keeps (the sandbox parses it).
  return {
    name: node.task.name,
    queue: queueOf(node.task),
    data: stepJobData<StepMeta>({ ...meta }, node.bound ? prepareInput(node.task, node.input) : undefined),
    opts: attemptOptions(node.task.defaults, node.options),
    ...(children.length > 0 && { children }),
    ...(meta === undefined && { takesInput: true as const }),
  };
}

/** A callback task's template: it takes the output (or the failure) it is sent with. */
export function callbackTemplate(task: TaskContract): StepTemplate {
  return taskTemplate({ type: 'task', task, bound: false, options: {}, hooks: { onSuccess: [], onFailure: [] } }, undefined, []);
}

function withHooks(template: StepTemplate, hooks: StepHooks): StepTemplate {
  if (hooks.onSuccess.length === 0 && hooks.onFailure.length === 0) return template;
  const meta = template.data.wf;
  const onSuccess = [...(meta.onSuccess ?? []), ...hooks.onSuccess.map(callbackTemplate)];
  const onFailure = [...(meta.onFailure ?? []), ...hooks.onFailure.map(callbackTemplate)];
  return {
    ...template,
    data: { ...template.data, wf: { ...meta, ...(onSuccess.length > 0 && { onSuccess }), ...(onFailure.length > 0 && { onFailure }) } },
  };
}

function failing(child: StepTemplate, policy: ChildFailurePolicy): StepTemplate {
  return { ...child, opts: { ...child.opts, ...childFailureOptions(policy) } };
}

function policyOf(policy: ChildFailurePolicy): Pick<StepMeta, 'policy'> {
  return policy === 'fail' ? {} : { policy };
}
