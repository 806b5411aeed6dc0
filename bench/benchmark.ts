/** What every benchmark gets from `bench/run.ts`. */
export interface BenchContext {
  /** The redis-server this run started (never port 6379). */
  redisUrl: string;
  /** Its pid, to count the CPU Redis spends. */
  redisPid: number;
  /** A key prefix of this benchmark's own. */
  prefix: string;
  /** The repo root (the cwd of spawned workers). */
  root: string;
  /** Progress lines, on stderr so the table stays clean. */
  log(message: string): void;
}

/** What a benchmark reports: flat figures (numbers already rounded) and what to know to read them. */
export interface BenchResult {
  name: string;
  figures: Record<string, number | string>;
  notes?: string;
}

/** A benchmark: a module named after its one export, listed in `bench/run.ts`. */
export type Benchmark = (ctx: BenchContext) => Promise<BenchResult>;
