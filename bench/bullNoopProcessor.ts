/** BullMQ's sandboxed processor for the raw-BullMQ side of the benchmarks: returns `{ i }`, like `bench.noop`. */
import type { SandboxedJob } from 'bullmq';

export default async function process(job: SandboxedJob<{ i: number }>): Promise<{ i: number }> {
  return { i: job.data.i };
}
