// The public API of @taskpool/core. Internals of taskpool's own apps (the storage layout, connection plumbing)
// are in `internal.ts` (`@taskpool/core/internal`), not here.
// Everything a task module needs (defineTask, workflow builders, error classes): see task.ts.
export * from './task.ts';
export { workflowFromSpec, workflowSpecSchema, type WorkflowSpec } from './workflow/workflowSpec.ts';
export { MAX_PRIORITY, stepOptionsSchema, submitOptionsSchema, type JsonSubmitOptions } from './jobOptionsSchema.ts';
export { WorkflowHandle, type WorkflowCancelResult, type WorkflowStatus } from './client/workflowHandle.ts';
export type { StepStatus } from './store/readWorkflowTree.ts';
export { createClient, type ClientOptions, type RunOptions, type SubmitOptions, type TaskpoolClient } from './client/createClient.ts';
export { TaskHandle, type ResultOptions } from './client/taskHandle.ts';
export type { ByteStream, ObjectAccess, ObjectOptions, PutOptions, Stored } from './objects/objectAccess.ts';
export type { DurableOptions } from './client/durableSubmit.ts';
export type { JobState, JobView } from './client/jobView.ts';
export { errorHttpStatus } from './errorHttpStatus.ts';
export { RedisUnavailableError } from './errors.ts';
export { serializeError } from './serializeError.ts';
export { loadTaskModule, collectTasks, type TaskModule } from './loadTaskModule.ts';
export { parseTaskInput, parseTaskOutput, toIssues } from './parseTaskIO.ts';
export { checkInputs, CheckedInputs, type InputIssues } from './checkedInputs.ts';
export { createLogger, type LogFormat, type Logger, type LoggerOptions } from './logger.ts';
export type { RedisClient } from './redisConnection.ts';
export { DEFAULT_PREFIX } from './store/taskpoolKeys.ts';
export { baseEnvSchema, parseEnv } from './envSchema.ts';
export { exitOnSignals, runMain } from './runService.ts';
export type { SandboxInfo, WorkerInfo } from './workerInfo.ts';
export { createAdmin, type AdminOptions, type CancelOutcome, type ObjectUsage, type QueueCounts, type TaskpoolAdmin } from './admin/createAdmin.ts';
export type { BatchJob, BatchJobOptions } from './admin/submitBatch.ts';
export { SEARCHABLE_STATES, type JobQuery, type JobSummary, type SearchableState } from './store/searchJobs.ts';
export type { FailureGroup, QueueTaskCounts, TaskJobCounts } from './admin/countJobsByTask.ts';
export { JobConflictError } from './admin/jobConflictError.ts';
export type { Outcome } from './client/taskHandle.ts';
export type { CancelResult } from './client/cancelTask.ts';
export type { ProgressValue } from './client/completionWatcher.ts';
export { idempotentJobId, type TaskJobOptions } from './client/jobOptions.ts';
export { idempotentWorkflowId } from './client/idempotentRun.ts';
export { taskFailureOf, type ErrorClass, type RegisterErrorOptions, type TaskFailure } from './client/errorRegistry.ts';
export { MapRun, type MapInputs, type MapOptions } from './client/mapRun.ts';
export type { MapItem, MapProgress } from './client/mapExecution.ts';
export type { ReturnWhen, WaitHandlesOptions, WaitHandlesResult } from './client/waitHandles.ts';
