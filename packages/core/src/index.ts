export { defineTask, isTask, queueOf, DEFAULT_QUEUE } from './defineTask.ts';
export type { AnyTask, HandlerResult, TaskContext, TaskDefaults, TaskDefinition, TaskInput, TaskOutput, TaskSpec } from './defineTask.ts';
export {
  Workflow,
  chain,
  chord,
  group,
  signature,
  type Bound,
  type ChildFailurePolicy,
  type FailureInfo,
  type GroupOptions,
  type InputOf,
  type OutputOf,
  type StepMismatch,
  type StepOptions,
  type StepOutcome,
  type WorkflowLike,
} from './workflow/workflow.ts';
export { Spawn } from './workflow/spawn.ts';
export { failureInfoSchema, serializedErrorSchema } from './workflow/failureInfo.ts';
export { workflowFromSpec, workflowSpecSchema, type WorkflowSpec } from './workflow/workflowSpec.ts';
export { WorkflowHandle, type WorkflowCancelResult, type WorkflowStatus } from './client/workflowHandle.ts';
export type { StepStatus } from './client/readWorkflowTree.ts';
export { createClient, type ClientOptions, type SubmitOptions, type TaskpoolClient } from './client/createClient.ts';
export { TaskHandle, type ResultOptions } from './client/taskHandle.ts';
export type { JobState, JobView } from './client/jobView.ts';
export {
  ConfigError,
  JobNotFoundError,
  RemoteTaskError,
  ResultTimeoutError,
  SandboxCrashError,
  TaskModuleError,
  TaskpoolError,
  UnknownTaskError,
  ValidationError,
  type TaskpoolErrorCode,
  type ValidationIssue,
} from './errors.ts';
export { errorHttpStatus } from './errorHttpStatus.ts';
export { serializeError, type FailureReason, type JsonValue, type SerializedError } from './serializeError.ts';
export { loadTaskModule, collectTasks, type TaskModule } from './loadTaskModule.ts';
export { parseTaskInput, parseTaskOutput, toIssues } from './parseTaskIO.ts';
export { createLogger, type LogFormat, type Logger, type LoggerOptions } from './logger.ts';
export { CLUSTER_SCHEME, checkClusterPrefix, createRedisConnection, isClusterUrl, type ConnectionRole, type RedisClient } from './redisConnection.ts';
export { DEFAULT_PREFIX } from './jobRecord.ts';
export { baseEnvSchema, parseEnv } from './envSchema.ts';
export { exitOnSignals, runMain } from './runService.ts';
export { isChunkData, type ChunkData, type ChunkResult, type ItemOutcome } from './chunkEnvelope.ts';
export { CANCEL_FIELD, HEARTBEAT_MS, cancelChannel, workersKey, type SandboxInfo, type WorkerInfo } from './workerInfo.ts';
export { createAdmin, type AdminOptions, type CancelOutcome, type QueueCounts, type TaskpoolAdmin } from './admin/createAdmin.ts';
export type { BatchJob } from './admin/submitBatch.ts';
export { SEARCHABLE_STATES, type JobQuery, type JobSummary, type SearchableState } from './admin/searchJobs.ts';
export type { FailureGroup, QueueTaskCounts, TaskJobCounts } from './admin/countJobsByTask.ts';
export { JobConflictError } from './admin/jobConflictError.ts';
export { CancelledError, ClientClosedError, IdempotencyConflictError, InvalidWorkflowError, TaskTimeoutError } from './errors.ts';
export type { Outcome } from './client/taskHandle.ts';
export type { CancelResult } from './client/cancelTask.ts';
export type { ProgressValue } from './client/completionWatcher.ts';
export { idempotentJobId, type TaskJobOptions } from './client/jobOptions.ts';
export { taskFailureOf, type ErrorClass, type RegisterErrorOptions, type TaskFailure } from './client/errorRegistry.ts';
export { MapRun, type MapInputs, type MapOptions } from './client/mapRun.ts';
export type { MapItem, MapProgress } from './client/mapExecution.ts';
export type { ReturnWhen, WaitHandlesOptions, WaitHandlesResult } from './client/waitHandles.ts';
