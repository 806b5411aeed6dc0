import type { RedisClient } from '../redisConnection.ts';
import type { JobState } from '../client/jobView.ts';
import { JOB_ERROR_FIELD } from './jobFields.ts';
import { childrenKeys, jobKey, lockKey, parseJobKey, queueKey } from './jobKeys.ts';
import { storedFailure } from './jobError.ts';
import type { SerializedError } from '../serializeError.ts';
import { readJobData } from './jobData.ts';
import { childId, childIndex, type StepMeta } from '../workflow/stepTemplate.ts';

/** One step of a workflow as `WorkflowHandle.status()` shows it. */
export interface StepStatus {
  /** The step's job id (`<workflow id>.<index>...`). */
  id: string;
  queue: string;
  /** The task's name, or `$group` / `$spawn` for a group or a fan-out step. */
  task: string;
  /**
   * BullMQ's state; `unknown` once the job is gone: past the keep policy, or removed before it finished (by
   * a cancel or a `fail` policy; such a step keeps its place among its siblings, with an empty `task` and
   * `queue`).
   */
  state: JobState;
  /** Attempts made so far. */
  attempts: number;
  /** The last attempt's error, if any. */
  error?: SerializedError;
  /** Its children, in order; a spawned workflow comes last. */
  children: StepStatus[];
}

const FIELDS = ['name', 'atm', 'failedReason', JOB_ERROR_FIELD, 'data'] as const;
const COMMANDS = 9;

/**
 * Reads a workflow's tree of steps from Redis, level by level, one pipeline per level: each step's job hash,
 * its state (BullMQ's sets and lock), and its children (the parent's `dependencies`, `processed` and
 * `failed` keys, where BullMQ keeps its children's job keys). A child no longer in those keys (removed by a
 * cancel or a `fail` policy) is still listed, as `unknown`: its parent's data says how many it had.
 */
export async function readWorkflowTree(redis: RedisClient, prefix: string, rootQueue: string, rootId: string): Promise<StepStatus> {
  const root: StepStatus = { id: rootId, queue: rootQueue, task: '', state: 'unknown', attempts: 0, children: [] };
  let level = [root];
  while (level.length > 0) {
    const pipeline = redis.pipeline();
    for (const step of level) {
      const key = jobKey(prefix, step.queue, step.id);
      const children = childrenKeys(key);
      pipeline.hmget(key, ...FIELDS);
      pipeline.zscore(queueKey(prefix, step.queue, 'completed'), step.id);
      pipeline.zscore(queueKey(prefix, step.queue, 'failed'), step.id);
      pipeline.zscore(queueKey(prefix, step.queue, 'waiting-children'), step.id);
      pipeline.zscore(queueKey(prefix, step.queue, 'delayed'), step.id);
      pipeline.exists(lockKey(key));
      pipeline.smembers(children.dependencies);
      pipeline.hkeys(children.processed);
      pipeline.hkeys(children.failed);
    }
    const replies = ((await pipeline.exec()) ?? []).map(([error, value]) => (error ? null : value));
    const next: StepStatus[] = [];
    level.forEach((step, i) => {
      const [fields, completed, failed, waitingChildren, delayed, locked, pending, processed, failedChildren] = replies.slice(i * COMMANDS, (i + 1) * COMMANDS) as [
        (string | null)[] | null,
        string | null,
        string | null,
        string | null,
        string | null,
        number | null,
        string[] | null,
        string[] | null,
        string[] | null,
      ];
      const [name, atm, failedReason, tpError, data] = fields ?? [];
      step.task = name ?? '';
      step.attempts = Number(atm ?? 0);
      step.state =
        name === null || name === undefined
          ? 'unknown'
          : completed !== null
            ? 'completed'
            : failed !== null
              ? 'failed'
              : waitingChildren !== null
                ? 'waiting-children'
                : delayed !== null
                  ? 'delayed'
                  : locked === 1
                    ? 'active'
                    : 'waiting';
      const error = storedFailure(tpError, failedReason);
      if (error) step.error = error;
      const keys = new Set([...(pending ?? []), ...(processed ?? []), ...(failedChildren ?? [])]);
      const found = [...keys].map((key) => parseJobKey(prefix, key)).map(({ queue, jobId }): StepStatus => ({ id: jobId, queue, task: '', state: 'unknown', attempts: 0, children: [] }));
      next.push(...found);
      const ids = new Set(found.map((child) => child.id));
      const removed = expectedChildren(step.id, data).filter((id) => !ids.has(id)).map((id): StepStatus => ({ id, queue: '', task: '', state: 'unknown', attempts: 0, children: [] }));
      step.children = [...found, ...removed].sort((a, b) => orderOf(step.id, a.id) - orderOf(step.id, b.id));
    });
    level = next;
  }
  return root;
}

/** The ids of the children a step was made with (`wf.count`), and of the workflow it spawned, if it did. */
function expectedChildren(stepId: string, data: string | null | undefined): string[] {
  let parsed: unknown;
  try {
    parsed = data ? JSON.parse(data) : undefined;
  } catch {
    return [];
  }
  const envelope = readJobData(parsed);
  if (envelope?.kind !== 'step') return [];
  const { count = 0, spawned } = envelope.wf as StepMeta;
  const ids = Array.from({ length: count }, (_, i) => childId(stepId, i));
  return spawned ? [...ids, childId(stepId, 's')] : ids;
}

/** A child's place among its siblings: its index, the spawned workflow (`.s`) last. */
function orderOf(parentId: string, childJobId: string): number {
  const index = childIndex(parentId, childJobId);
  return index === 's' ? Number.MAX_SAFE_INTEGER : index;
}
