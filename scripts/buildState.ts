import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The packages whose build (`dist/`) the bins, the tests and `npm start` run. */
export const BUILT_PACKAGES = ['packages/core', 'apps/worker', 'apps/producer'] as const;

/** The newest modification time of the files under `dir` that pass `keep` (0 when there is none). */
function newest(dir: string, keep: (name: string) => boolean): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !keep(entry.name)) continue;
    latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/** What is wrong with each package's build: missing, or older than its sources. Empty when all are current. */
export function staleBuilds(): string[] {
  const stale: string[] = [];
  for (const pkg of BUILT_PACKAGES) {
    const dist = join(ROOT, pkg, 'dist');
    if (!existsSync(dist)) {
      stale.push(`${pkg} is not built`);
      continue;
    }
    const sources = newest(join(ROOT, pkg, 'src'), (name) => !name.includes('.test.'));
    const config = Math.max(statSync(join(ROOT, pkg, 'package.json')).mtimeMs, statSync(join(ROOT, pkg, 'tsconfig.build.json')).mtimeMs);
    if (Math.max(sources, config) > newest(dist, () => true)) stale.push(`${pkg}/dist is older than its sources`);
  }
  return stale;
}
