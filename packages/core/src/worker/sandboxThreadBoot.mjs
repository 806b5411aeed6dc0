// The entry of a `thread` sandbox. Worker threads don't inherit tsx's loader, so the TypeScript entry is
// loaded through tsx's scoped `tsImport`, which compiles its whole import tree.
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.entry, import.meta.url);
