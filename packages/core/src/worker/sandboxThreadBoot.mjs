// The entry of a `thread` sandbox. Worker threads don't inherit a loader registered with `--import`, so when
// the sandbox needs tsx (a TypeScript task module without Node's own type stripping, or taskpool run from its
// sources), the entry is loaded through tsx's scoped `tsImport`, which compiles its whole import tree.
import { workerData } from 'node:worker_threads';

if (workerData.tsxApi) {
  const { tsImport } = await import(workerData.tsxApi);
  await tsImport(workerData.entry, import.meta.url);
} else {
  await import(workerData.entry);
}
