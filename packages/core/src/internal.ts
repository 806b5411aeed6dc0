// `@taskpool/core/internal`: what taskpool's own apps (apps/producer, apps/worker) and tests use and users should
// not: the storage layer's keys, fields and reads (`store/`), and connection plumbing. Not a public API: it changes
// without notice. The public API is `index.ts`.
export { CLUSTER_SCHEME, checkClusterPrefix, createRedisConnection, isClusterUrl, type ConnectionRole, type RedisClient } from './redisConnection.ts';
export { HEARTBEAT_MS } from './workerInfo.ts';
export { isConnectionError } from './redisConnection.ts';
export { watchConnection, type ConnectionWatch } from './client/connectionWatch.ts';
export { bucketOf, DURATION_BOUNDS_MS, quantileOf } from './store/durationBuckets.ts';
export { CANCEL_FIELD, COUNTED_FIELD, CRASHES_FIELD, JOB_ERROR_FIELD } from './store/jobFields.ts';
export { storedFailure } from './store/jobError.ts';
export { flagCancel } from './store/flagCancel.ts';
export { jobKey, queueKey } from './store/jobKeys.ts';
export { finishJobs, takeJobs, type FinishedJob, type LeanQueue, type Take, type TakenJob } from './store/leanLane.ts';
export { minuteStatsKey, readLastHour, type HourStats, type MinuteStats } from './store/minuteStats.ts';
export { readJobOutcome, type JobOutcome } from './store/readJobOutcome.ts';
export { countAdded, countCompleted, countSetKey, readTaskCounts, syncJobCounts, type CountedJob } from './store/taskCounts.ts';
export { cancelChannel, cancelledMarkerKey, workersKey, workflowCancelKey } from './store/taskpoolKeys.ts';
export { taskJobData } from './store/jobData.ts';
export { encodeValue } from './valueCodec.ts';
export { SubmitBatcher, type JobToAdd } from './client/submitBatcher.ts';
// Large data by reference (issue #15): the stores and the reference codec (the client's put/get/delete are public).
export type { ObjectMeta, ObjectStore, PutObjectOptions } from './objects/objectStore.ts';
export { RedisObjectStore, REDIS_OBJECT_CHUNK_BYTES } from './store/redisObjectStore.ts';
export { FsObjectStore } from './objects/fsObjectStore.ts';
export { decodeObject, encodeObject, getObject, isRef, putObject, readObjectBytes, verifyBytes, type ObjectKind, type PutOptions, type Ref } from './objects/objectRef.ts';
export { ownedObjectCount, sweepOwnedObjects } from './store/objectOwners.ts';
export { ObjectCache, DEFAULT_OBJECT_CACHE_MAX_BYTES } from './worker/objectCache.ts';
