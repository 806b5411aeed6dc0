/** One sandbox process as a worker's heartbeat reports it. */
export interface SandboxInfo {
  pid: number;
  /** The job it runs now, if any. */
  jobId?: string;
  task?: string;
  rssMb: number;
  /** CPU use since the previous heartbeat, in percent of one core. */
  cpuPercent: number;
  tasksRun: number;
}

/** What a worker instance publishes every heartbeat (`client.workers()` lists them). */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  version: string;
  queues: string[];
  concurrency: number;
  busy: number;
  tasksDone: number;
  tasksFailed: number;
  startedAt: number;
  /** When this heartbeat was written (ms since the epoch). */
  heartbeatAt: number;
  rssMb: number;
  sandboxes: SandboxInfo[];
}

/** How often workers write their heartbeat; a worker missing 3 is gone. */
export const HEARTBEAT_MS = 2_000;
