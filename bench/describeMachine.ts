import { arch, availableParallelism, cpus, platform, totalmem } from 'node:os';

/** The machine a run was measured on. */
export interface Machine {
  node: string;
  cpuModel: string;
  cores: number;
  totalMemoryGiB: number;
  platform: string;
}

export function describeMachine(): Machine {
  return {
    node: process.version,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    totalMemoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${platform()} ${arch()}`,
  };
}
