import type { FlowJob } from 'bullmq';
import { claimCheck, type ClaimCheckTarget } from '../objects/claimCheck.ts';
import { readJobData, stepJobData, type StepJobData } from '../store/jobData.ts';

/**
 * A workflow's flow with each step's bound input that is too big to carry stored as an object owned by that
 * step's job (see `objects/claimCheck.ts`); steps with small inputs or none are given back as they are.
 */
export async function claimCheckFlow(flow: FlowJob, target: ClaimCheckTarget): Promise<FlowJob> {
  const children = flow.children ? await Promise.all(flow.children.map((child) => claimCheckFlow(child, target))) : undefined;
  const data = readJobData(flow.data);
  const id = flow.opts?.jobId;
  let checked = flow.data as unknown;
  if (data?.kind === 'step' && data.input !== undefined && id !== undefined) {
    const encoded = data.meta ? { json: data.input, meta: data.meta } : { json: data.input };
    const carried = await claimCheck(encoded, target, { queue: flow.queueName, jobId: id });
    if ('ref' in carried) checked = stepJobData((data as StepJobData).wf, carried);
  }
  return { ...flow, data: checked, ...(children && { children }) };
}
