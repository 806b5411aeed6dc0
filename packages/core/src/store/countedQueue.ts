import { FlowProducer, Queue, type FlowJob, type Job, type JobNode } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import { countAdded, syncJobCounts, type CountedJob } from './taskCounts.ts';

function counted(jobs: readonly (Job | undefined)[]): CountedJob[] {
  return jobs.flatMap((job) => (job?.id ? [{ queue: job.queueName, jobId: job.id, task: job.name }] : []));
}

/** Counts jobs just added: plain ones by the short script (`countAdded`), delayed, prioritized and children by the general one. */
async function countAdds(redis: RedisClient, prefix: string, jobs: readonly Job[]): Promise<void> {
  const plain: Job[] = [];
  const other: Job[] = [];
  for (const job of jobs) (job.opts.delay || job.opts.priority || job.opts.parent ? other : plain).push(job);
  await Promise.all([countAdded(redis, prefix, counted(plain)), other.length > 0 && syncJobCounts(redis, prefix, counted(other))]);
}

function nodesOf(node: JobNode): Job[] {
  return [node.job, ...(node.children ?? []).flatMap(nodesOf)];
}

/**
 * A BullMQ `Queue` whose adds also place the new jobs in the per-task counts (`taskCounts.ts`): one short script
 * call for the plain ones (`countAdded`), the general script for delayed, prioritized and flow children. An add
 * BullMQ ignored (the id exists) leaves the existing job where it is counted.
 */
export class CountedQueue extends Queue {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  /** `counts`: the connection of the count scripts, one BullMQ has not loaded its commands on (see startWorker.ts). Default: `connection`. */
  constructor(name: string, options: { connection: RedisClient; counts?: RedisClient; prefix: string }) {
    super(name, { connection: options.connection, prefix: options.prefix });
    this.#redis = options.counts ?? options.connection;
    this.#prefix = options.prefix;
  }

  override async add(...args: Parameters<Queue['add']>): Promise<Job> {
    const job = await super.add(...args);
    await countAdds(this.#redis, this.#prefix, [job]);
    return job;
  }

  override async addBulk(...args: Parameters<Queue['addBulk']>): Promise<Job[]> {
    const jobs = await super.addBulk(...args);
    await countAdds(this.#redis, this.#prefix, jobs);
    return jobs;
  }
}

/**
 * A BullMQ `FlowProducer` whose adds place every job of the flow in the per-task counts (parents waiting for
 * children are not counted), in one pipeline after the flow's MULTI.
 */
export class CountedFlowProducer extends FlowProducer {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  /** `counts`: as {@link CountedQueue}'s. */
  constructor(options: { connection: RedisClient; counts?: RedisClient; prefix: string }) {
    super({ connection: options.connection, prefix: options.prefix });
    this.#redis = options.counts ?? options.connection;
    this.#prefix = options.prefix;
  }

  async #count(nodes: JobNode[]): Promise<void> {
    await syncJobCounts(this.#redis, this.#prefix, counted(nodes.flatMap(nodesOf)));
  }

  override async add(flow: FlowJob, opts?: Parameters<FlowProducer['add']>[1]): Promise<JobNode> {
    const node = await super.add(flow, opts);
    await this.#count([node]);
    return node;
  }

  override async addBulk(flows: FlowJob[]): Promise<JobNode[]> {
    const nodes = await super.addBulk(flows);
    await this.#count(nodes);
    return nodes;
  }
}
