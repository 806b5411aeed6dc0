export { startWorker, type FetchMode, type StartWorkerOptions, type TaskpoolWorker } from './startWorker.ts';
export { SandboxPool, type SandboxPoolOptions } from './sandboxPool.ts';
export { classifyExit, type SandboxExit } from './classifyExit.ts';
export { listWorkers } from '../store/workerRegistry.ts';
