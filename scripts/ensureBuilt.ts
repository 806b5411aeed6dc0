/**
 * Runs before `npm start`: builds the packages (`npm run build`) only when a build is missing or older than
 * its sources, so a start with a current build does not rewrite `dist/` under processes that run it.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { staleBuilds } from './buildState.ts';

const stale = staleBuilds();
if (stale.length > 0) {
  console.error(`Building the packages (${stale.join('; ')})`);
  const build = spawnSync('npm', ['run', 'build', '--', '--output-logs=errors-only'], { cwd: fileURLToPath(new URL('../', import.meta.url)), stdio: 'inherit' });
  process.exitCode = build.status ?? 1;
}
