import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeRun, runCommand } from './runCommand.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The workspaces published as packages, by folder. */
export const PUBLISHED_WORKSPACES = ['packages/core', 'apps/worker', 'apps/producer'] as const;

/** One package as `npm pack --json` describes its tarball. */
export interface PackedPackage {
  name: string;
  version: string;
  /** The tarball's absolute path. */
  tarball: string;
  /** Every file in it, relative to the package root, with its mode. */
  files: { path: string; mode: number }[];
}

/**
 * The environment for npm in tests: this process's, without what `npm test` (or `npm run`) put there for its
 * own run (`npm_config_workspace`, `npm_package_*`, `npm_lifecycle_*`...), which would change what npm does in
 * another project. The user's cache and registry settings stay.
 */
export function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const kept = ['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig', 'npm_config_globalconfig'];
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_') || kept.includes(key.toLowerCase())));
  return { ...env, ...extra };
}

/** Fails with what to do when a published workspace has not been built (`dist/` missing). */
export async function assertBuilt(): Promise<void> {
  for (const workspace of PUBLISHED_WORKSPACES) {
    const manifest = JSON.parse(await readFile(join(ROOT, workspace, 'package.json'), 'utf8')) as { exports?: unknown };
    const entry = JSON.stringify(manifest.exports ?? {}).match(/"import":"\.\/(dist\/[^"]+)"/)?.[1];
    if (entry === undefined) throw new Error(`${workspace}/package.json has no "import" export under dist/: was it restructured for publishing?`);
    try {
      await readFile(join(ROOT, workspace, entry));
    } catch {
      throw new Error(`${workspace}/${entry} is missing: run \`npm run build\` first (npm test builds before it tests).`);
    }
  }
}

/** Packs the published workspaces into `destination` with `npm pack` (its scripts run, as for a publish). */
export async function packWorkspaces(destination: string): Promise<PackedPackage[]> {
  const args = ['pack', ...PUBLISHED_WORKSPACES.flatMap((workspace) => ['--workspace', workspace]), '--pack-destination', destination, '--json'];
  const run = await runCommand('npm', args, { cwd: ROOT, env: npmEnv(), timeoutMs: 180_000 });
  if (run.code !== 0) throw new Error(describeRun('npm pack', run));
  // A pack script's own output may come first: the JSON is the array that starts a line.
  const json = run.stdout.slice(Math.max(0, run.stdout.search(/^\[/m)));
  const packed = JSON.parse(json) as { name: string; version: string; filename: string; files: { path: string; mode: number }[] }[];
  return packed.map(({ name, version, filename, files }) => ({ name, version, tarball: join(destination, filename), files }));
}
