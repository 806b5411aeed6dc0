export { loadWorkerEnv, workerEnvSchema, type WorkerEnv } from './env.ts';
