/**
 * Fork target of {@link bareParallel}: warms up, says `ready`, and on `go` runs `calls` x
 * `countPrimesBelow(limit)`, then sends the elapsed ms and exits. Arguments: `<limit> <calls>`.
 */
import { performance } from 'node:perf_hooks';
import { countPrimesBelow } from '../examples/tasks.ts';

const limit = Number(process.argv[2]);
const calls = Number(process.argv[3]);
for (let i = 0; i < 4; i++) countPrimesBelow(limit);
process.send?.('ready');
process.once('message', () => {
  const started = performance.now();
  for (let i = 0; i < calls; i++) countPrimesBelow(limit);
  process.send?.(performance.now() - started, () => process.exit(0));
});
