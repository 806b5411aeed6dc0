import { compileWorkflow } from './compileWorkflow.ts';
import type { StepTemplate } from './stepTemplate.ts';
import type { Bound, Workflow } from './workflow.ts';

const SPAWN_KEY = '$tpSpawn';

/**
 * What `ctx.spawn(workflow)` returns for a handler to return: the job starts the workflow as its child and
 * gives that workflow's output as its own, without holding a sandbox while it waits.
 */
export class Spawn<Out> {
  /** Phantom: the output the spawned workflow gives. */
  declare readonly __output: () => Out;

  constructor(readonly template: StepTemplate) {}

  /** How it crosses from a sandbox to its worker. */
  toJSON(): { [SPAWN_KEY]: StepTemplate } {
    return { [SPAWN_KEY]: this.template };
  }
}

/** Compiles a workflow for `ctx.spawn`. */
export function spawn<Out>(workflow: Workflow<Bound, Out>): Spawn<Out> {
  return new Spawn(compileWorkflow(workflow.node));
}

/** The workflow a handler's output asks to start, if it is a spawn (as returned, or as it crossed from a sandbox). */
export function spawnedTemplate(output: unknown): StepTemplate | undefined {
  if (output instanceof Spawn) return output.template;
  if (typeof output !== 'object' || output === null || !(SPAWN_KEY in output)) return undefined;
  return (output as { [SPAWN_KEY]: StepTemplate })[SPAWN_KEY];
}
