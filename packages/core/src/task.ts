/**
 * `@taskpool/core/task`: what a task module needs, and nothing that talks to Redis.
 *
 * Every sandbox process loads the task module. Imported from here rather than from `@taskpool/core`, a task
 * module leaves BullMQ, ioredis and pino out of those processes, which need none of them (about 23 MiB of
 * resident memory each). Keep this entry and what it imports free of them: `bench/idleMemory.ts` measures it.
 */
export { defineTask, isTask, queueOf, DEFAULT_QUEUE } from './defineTask.ts';
export type { AnyTask, ConcurrencyOptions, DedupeOptions, HandlerResult, Isolation, TaskContext, TaskDefaults, TaskDefinition, TaskInput, TaskOutput, TaskSpec } from './defineTask.ts';
export {
  CancelledError,
  ClientClosedError,
  ConfigError,
  IdempotencyConflictError,
  InvalidWorkflowError,
  JobNotFoundError,
  NotReplicatedError,
  ObjectCorruptError,
  ObjectNotFoundError,
  PayloadTooLargeError,
  RemoteTaskError,
  ResultTimeoutError,
  SandboxCrashError,
  SandboxUnavailableError,
  StepTypeMismatchError,
  TaskModuleError,
  TaskpoolError,
  TaskTimeoutError,
  UnknownTaskError,
  ValidationError,
  type TaskpoolErrorCode,
  type ValidationIssue,
} from './errors.ts';
export { isRef, type ObjectKind, type Ref } from './objects/objectRef.ts';
export { objectRef } from './objects/objectRefSchema.ts';
export type { FailureReason, JsonValue, SerializedError } from './serializeError.ts';
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
