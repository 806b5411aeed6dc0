import type { RedisClient } from '../redisConnection.ts';
import { JobNotFoundError } from '../errors.ts';
import { markWorkflowCancelled } from '../store/cancelFlags.ts';
import type { Ref } from '../objects/objectRef.ts';
import { resolveJobOutput } from '../store/jobData.ts';
import type { CancelResult } from './cancelTask.ts';
import type { CompletionWatcher, Settled } from './completionWatcher.ts';
import type { ErrorRegistry } from './errorRegistry.ts';
import { readWorkflowTree, type StepStatus } from '../store/readWorkflowTree.ts';
import { JobFuture, type Outcome } from './jobFuture.ts';
import type { ConnectionWatch } from './connectionWatch.ts';
import { failOnDisconnect } from './retryOnDisconnect.ts';

/** What a workflow handle needs from its client. */
export interface WorkflowHost {
  readonly watcher: CompletionWatcher;
  readonly errors: ErrorRegistry;
  readonly redis: RedisClient;
  /** Whether `redis` is down: reads and cancels then fail at once. */
  readonly connection: ConnectionWatch;
  readonly prefix: string;
  /** How long a cancel's mark lasts, seconds (the failed-job retention). */
  readonly cancelTtlSeconds: number;
  cancel(queue: string, jobId: string): Promise<CancelResult>;
  /** Reads an output carried by reference (the claim check). */
  getObject(ref: Ref): Promise<unknown>;
}

/** A workflow's state: its root's, and every step's in a tree. */
export interface WorkflowStatus {
  id: string;
  /** The root step's state: `completed` or `failed` once the workflow is done. */
  state: StepStatus['state'];
  root: StepStatus;
}

/** What `WorkflowHandle.cancel()` did: the steps it removed (not started) and signalled (running). */
export interface WorkflowCancelResult {
  removed: number;
  signalled: number;
}

const UNFINISHED: ReadonlySet<StepStatus['state']> = new Set(['waiting', 'prioritized', 'delayed', 'active']);

/**
 * A running workflow (`client.run()`): a future for its output (the root step's), a tree of its steps'
 * states, and a cancel. Its id is its root job's id. `result()` rejects with the error of the step that
 * failed it, its class rebuilt as for a single task (`RemoteTaskError`, `CancelledError`, a registered
 * class...), or with `ResultTimeoutError` after `timeoutMs` (the workflow goes on).
 */
export class WorkflowHandle<Out> extends JobFuture<Out> {
  constructor(
    id: string,
    queue: string,
    private readonly host: WorkflowHost,
    /** True when `client.run()` found the workflow an earlier run with the same idempotency key had sent. Default: false. */
    readonly replayed = false,
  ) {
    super(id, queue, host.watcher);
  }

  /** Every step's state, attempts and error, as a tree from the root. */
  async status(): Promise<WorkflowStatus> {
    const root = await failOnDisconnect(() => readWorkflowTree(this.host.redis, this.host.prefix, this.queue, this.id), this.host.connection);
    return { id: this.id, state: root.state, root };
  }

  /**
   * Cancels everything not finished: marks the workflow cancelled (a worker fails any of its steps it fetches
   * afterwards as cancelled), removes the steps not started and stops the running ones (their handlers'
   * signal fires, their sandboxes are killed after the grace period). `result()` then rejects with
   * `CancelledError`. Steps that finished keep their outputs.
   */
  cancel(): Promise<WorkflowCancelResult> {
    return failOnDisconnect(() => this.#cancel(), this.host.connection);
  }

  async #cancel(): Promise<WorkflowCancelResult> {
    await markWorkflowCancelled(this.host.redis, this.host.prefix, this.id, this.host.cancelTtlSeconds);
    const tree = await readWorkflowTree(this.host.redis, this.host.prefix, this.queue, this.id);
    const result: WorkflowCancelResult = { removed: 0, signalled: 0 };
    // Leaves first, so that no parent is woken with a child that is still about to run.
    for (const step of unfinished(tree).reverse()) {
      const done = await this.host.cancel(step.queue, step.id);
      if (done === 'removed') result.removed++;
      if (done === 'signalled') result.signalled++;
    }
    this.host.watcher.recheck(this.queue, this.id);
    return result;
  }

  protected async toOutcome(settled: Settled): Promise<Outcome<Out>> {
    if (settled.state === 'missing') return { ok: false, error: new JobNotFoundError(this.id) };
    if (settled.state === 'failed') return { ok: false, error: this.host.errors.rebuild(this.id, settled.error, settled.attemptsMade) };
    try {
      return { ok: true, value: (await resolveJobOutput(settled.value, (ref) => this.host.getObject(ref))) as Out };
    } catch (error) {
      return { ok: false, error: error as Error };
    }
  }
}

/** The steps not finished and not waiting for children, parents before their children. */
function unfinished(root: StepStatus): StepStatus[] {
  const found: StepStatus[] = [];
  const visit = (step: StepStatus): void => {
    if (UNFINISHED.has(step.state)) found.push(step);
    step.children.forEach(visit);
  };
  visit(root);
  return found;
}
