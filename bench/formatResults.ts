import type { BenchResult } from './benchmark.ts';
import type { Machine } from './describeMachine.ts';

/** One `npm run bench`: when, where, and every benchmark's figures. */
export interface BenchRun {
  date: string;
  command: string;
  machine: Machine;
  /** 1, 5 and 15 minute load averages when the run started: above ~0.5, something else was busy. */
  loadAverageAtStart: number[];
  durationS: number;
  results: BenchResult[];
}

/** An aligned plain-text table per benchmark, for the terminal. */
export function formatTable(run: BenchRun): string {
  return run.results
    .map((result) => {
      const rows = Object.entries(result.figures).map(([key, value]) => [key, String(value)] as const);
      const width = Math.max(...rows.map(([key]) => key.length));
      return [`${result.name}`, ...rows.map(([key, value]) => `  ${key.padEnd(width)}  ${value}`)].join('\n');
    })
    .join('\n\n');
}

/** The same run as Markdown: the machine, then one table and its notes per benchmark. */
export function formatMarkdown(run: BenchRun): string {
  const m = run.machine;
  const lines = [
    `# Benchmarks: ${run.command}`,
    '',
    `\`${run.command}\` on ${run.date} (${run.durationS} s).`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.totalMemoryGiB} GiB, ${m.platform}, Node ${m.node}; ` +
      `load average at start ${run.loadAverageAtStart.join(' ')}.`,
  ];
  for (const result of run.results) {
    lines.push('', `## ${result.name}`, '', '| figure | value |', '| --- | ---: |');
    for (const [key, value] of Object.entries(result.figures)) lines.push(`| ${key} | ${value} |`);
    if (result.notes) lines.push('', result.notes);
  }
  return `${lines.join('\n')}\n`;
}
