import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeRun, runCommand } from './runCommand.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * Where the Node releases the tests run on are installed, one folder per major: `<major>/node_modules/.bin/node`.
 * In the user's cache, not in the repo's node_modules, which `npm ci` empties: CI downloads them once per machine.
 */
export const NODE_CACHE = join(homedir(), '.cache', 'taskpool', 'nodes');

/**
 * The path of a Node binary of the given major version, installed from the npm registry (the `node`
 * package) under {@link NODE_CACHE} on first use and reused after; about 30 MB to download.
 *
 * @param major - e.g. `22`; the newest release of that major is installed.
 * @param env - The environment of npm (registry, cache). Default: `process.env`.
 */
export async function nodeOfMajor(major: number, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = join(NODE_CACHE, String(major));
  const node = join(dir, 'node_modules', 'node', 'bin', 'node');
  if ((await versionOf(node))?.startsWith(`v${major}.`)) return node;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ private: true, description: `Node ${major} for taskpool's tests` })}\n`);
  const install = await runCommand('npm', ['install', `node@${major}`, '--prefer-offline', '--no-audit', '--no-fund', '--workspaces=false'], {
    cwd: dir,
    env,
    timeoutMs: 240_000,
  });
  const version = await versionOf(node);
  if (install.code !== 0 || !version?.startsWith(`v${major}.`)) {
    throw new Error(`Could not install Node ${major} from the npm registry into ${dir} (got ${version ?? 'no binary'}).\n${describeRun('npm install', install)}`);
  }
  return node;
}

/** `node --version` of a binary, or undefined if there is none or it does not run. */
async function versionOf(node: string): Promise<string | undefined> {
  if (!existsSync(node)) return undefined;
  const run = await runCommand(node, ['--version'], { cwd: ROOT, env: {}, timeoutMs: 20_000 });
  return run.code === 0 ? run.stdout.trim() : undefined;
}
