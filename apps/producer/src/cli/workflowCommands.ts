import { readFileSync } from 'node:fs';
import type { StepResponse } from '../routes/workflowRoutes.ts';
import type { ApiClient } from './apiClient.ts';
import { idempotencyHeaders, onlyArg, UsageError, type Command } from './command.ts';
import { errorLine } from './output.ts';

/** How long each long-poll asks the producer to wait (it caps the wait itself). */
const POLL_WAIT_MS = 25_000;

/** `GET /v1/workflows/:id`. */
export interface WorkflowResponse {
  id: string;
  state: string;
  result?: unknown;
  error?: StepResponse['error'];
  root: StepResponse;
}

/** `taskpool run <workflow.json | ->` [--wait] [--idempotency-key K]: sends a JSON workflow (`{ "chain": [...] }`, ...); with --wait, prints its tree and result. */
export const run: Command = async (ctx) => {
  const file = onlyArg(ctx, 'workflow file (JSON, or - for stdin)');
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file} is not JSON (${(error as Error).message})`);
  }
  const { id } = await ctx.api.post<{ id: string }>('/v1/workflows', spec, idempotencyHeaders(ctx.flags));
  if (!ctx.flags.wait) {
    ctx.out(ctx.flags.json ? JSON.stringify({ id }) : id);
    return 0;
  }
  ctx.note(`Started workflow ${id}; waiting...`);
  const workflow = await waitForWorkflow(ctx.api, id);
  ctx.out(ctx.flags.json ? JSON.stringify(workflow) : describeWorkflow(workflow));
  return workflow.state === 'completed' ? 0 : 1;
};

/** `taskpool tree <id>`: a workflow's steps as an indented tree, with its result or error. */
export const tree: Command = async (ctx) => {
  const id = onlyArg(ctx, 'workflow id');
  const workflow = await ctx.api.get<WorkflowResponse>(`/v1/workflows/${encodeURIComponent(id)}`);
  ctx.out(ctx.flags.json ? JSON.stringify(workflow) : describeWorkflow(workflow));
  // As `run --wait`: a workflow that has failed exits 1.
  return workflow.state === 'failed' ? 1 : 0;
};

async function waitForWorkflow(api: ApiClient, id: string): Promise<WorkflowResponse> {
  for (;;) {
    const workflow = await api.get<WorkflowResponse>(`/v1/workflows/${encodeURIComponent(id)}?waitMs=${POLL_WAIT_MS}`);
    if (workflow.state === 'completed' || workflow.state === 'failed' || workflow.state === 'unknown') return workflow;
  }
}

/** The tree, one step a line (`task  state  (attempts: n)`), then the result or the error. */
export function describeWorkflow(workflow: WorkflowResponse): string {
  const lines = [`workflow ${workflow.id}: ${workflow.state}`];
  const walk = (step: StepResponse, depth: number): void => {
    lines.push(`${'  '.repeat(depth + 1)}${step.task}  ${step.state}  (attempts: ${step.attempts})${step.error ? `  ${errorLine(step.error)}` : ''}`);
    for (const child of step.children) walk(child, depth + 1);
  };
  walk(workflow.root, 0);
  if (workflow.result !== undefined) lines.push(`result: ${JSON.stringify(workflow.result, null, 2)}`);
  if (workflow.error) lines.push(`error: ${errorLine(workflow.error)}`);
  return lines.join('\n');
}
