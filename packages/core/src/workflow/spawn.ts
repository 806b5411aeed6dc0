import { compileWorkflow } from './compileWorkflow.ts';
import type { StepTemplate } from './stepTemplate.ts';
import type { Bound, Workflow } from './workflow.ts';

/** Marks a {@link Spawn}: a symbol, so no value that came from JSON (a user's output) can pass for one. */
const SPAWN_BRAND = Symbol.for('taskpool.spawn');

/**
 * What `ctx.spawn(workflow)` returns for a handler to return: the job starts the workflow as its child and
 * gives that workflow's output as its own, without holding a sandbox while it waits.
 */
export class Spawn<Out> {
  /** Phantom: the output the spawned workflow gives. */
  declare readonly __output: () => Out;
  readonly [SPAWN_BRAND] = true;

  constructor(readonly template: StepTemplate) {}
}

/** Compiles a workflow for `ctx.spawn`. */
export function spawn<Out>(workflow: Workflow<Bound, Out>): Spawn<Out> {
  return new Spawn(compileWorkflow(workflow.node));
}

/** The workflow a handler's return asks to start, if it is a {@link Spawn} (made by `ctx.spawn`, in this process). */
export function spawnedTemplate(output: unknown): StepTemplate | undefined {
  if (typeof output !== 'object' || output === null || (output as { [SPAWN_BRAND]?: unknown })[SPAWN_BRAND] !== true) return undefined;
  return (output as Spawn<unknown>).template;
}
