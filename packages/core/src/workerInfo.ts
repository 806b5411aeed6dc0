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
  /**
   * False while the worker cannot run its tasks: no sandbox is alive and none can start (a fork the OS
   * refuses, a `setup()` that throws). It fetches no job then, and gives back any it held. Missing from
   * workers that predate it: read as true.
   */
  healthy?: boolean;
  /** Why it is unhealthy (the latest start failure), while it is. */
  unhealthyReason?: string;
}

/** How often workers write their heartbeat; a worker missing 3 is gone. */
export const HEARTBEAT_MS = 2_000;
