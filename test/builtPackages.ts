import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PACKAGES = ['packages/core', 'apps/worker', 'apps/producer'];

/** The newest modification time of the files under `dir` that pass `keep`. */
function newest(dir: string, keep: (name: string) => boolean): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !keep(entry.name)) continue;
    latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/**
 * Tests import the packages as users do, from their build (`dist/`), and start the bins, which run the build:
 * a missing or stale build fails the run at once with what to do, instead of testing old code.
 */
export default function checkBuilt(): void {
  for (const pkg of PACKAGES) {
    const dist = join(ROOT, pkg, 'dist');
    const hint = 'run `npm run build` (`npm test` builds first)';
    if (!existsSync(dist)) throw new Error(`${pkg} is not built: ${hint}.`);
    const source = newest(join(ROOT, pkg, 'src'), (name) => !name.includes('.test.'));
    if (source > newest(dist, () => true)) throw new Error(`${pkg}/dist is older than its sources: ${hint}.`);
  }
}
