export { defineTask, isTask, queueOf, DEFAULT_QUEUE } from './defineTask.ts';
export type { AnyTask, TaskContext, TaskDefaults, TaskDefinition, TaskInput, TaskOutput, TaskSpec } from './defineTask.ts';
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
export { createRedisConnection, type ConnectionRole } from './redisConnection.ts';
export { DEFAULT_PREFIX } from './jobRecord.ts';
export { baseEnvSchema, parseEnv } from './envSchema.ts';
export { exitOnSignals, runMain } from './runService.ts';
export { isChunkData, type ChunkData, type ChunkResult, type ItemOutcome } from './chunkEnvelope.ts';
export { CANCEL_FIELD, HEARTBEAT_MS, cancelChannel, workersKey, type SandboxInfo, type WorkerInfo } from './workerInfo.ts';
