export { buildServer, type BuildServerDeps } from './buildServer.ts';
export { DEFAULT_BODY_LIMIT_BYTES, loadProducerEnv, producerEnvSchema, type ProducerEnv } from './env.ts';
export { toHttpError, type HttpError, type HttpErrorBody, type HttpErrorCode } from './httpError.ts';
export { toJobResponse, type JobResponse, type JobResponseError } from './jobResponse.ts';
export { createRedisHealth, RedisUnavailableError, type RedisHealth, type RedisHealthOptions } from './redisHealth.ts';
