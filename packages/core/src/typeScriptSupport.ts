import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { TaskModuleError } from './errors.ts';

/**
 * How a process loads a TypeScript task module (tsx first when installed, then Node's own stripping):
 * - `native`: Node strips the types itself (on by default from Node 22.18 and in 24; `--experimental-strip-types`
 *   from 22.6). Erasable syntax only: no enums, no parameter properties, imports name the `.ts` file.
 * - `tsx`: the user installed tsx (next to the task module, in the working directory, or beside taskpool);
 *   it compiles anything TypeScript accepts.
 * - `javascript`: the module is `.js`/`.mjs`/`.cjs`, nothing to do.
 */
export type TypeScriptLoader =
  | { kind: 'javascript' }
  | { kind: 'native'; execArgv: string[] }
  | { kind: 'tsx'; execArgv: string[]; loaderUrl: string; apiUrl: string };

const TS_EXTENSION = /\.(c|m)?tsx?$/;
const STRIP_FLAGS = ['--experimental-strip-types', '--experimental-transform-types'];

/** True when `path` names a TypeScript file. */
export function isTypeScriptPath(path: string): boolean {
  return TS_EXTENSION.test(path);
}

/** Node's own type stripping is on in this process. */
function nativeStripping(): boolean {
  return Boolean((process.features as { typescript?: string | false }).typescript);
}

/** Finds tsx from the task module's folder, the working directory, then beside taskpool itself. */
function findTsx(modulePath: string): TsxUrls | undefined {
  const folder = dirname(modulePath);
  // Every sandbox start asks again (a fork, a restart, its thread's boot): look on disk once per folder.
  if (!tsxByFolder.has(folder)) tsxByFolder.set(folder, lookUpTsx(folder));
  return tsxByFolder.get(folder);
}

type TsxUrls = { loaderUrl: string; apiUrl: string };
const tsxByFolder = new Map<string, TsxUrls | undefined>();

function lookUpTsx(folder: string): TsxUrls | undefined {
  const from = [pathToFileURL(`${folder}/`).href, pathToFileURL(`${process.cwd()}/`).href, import.meta.url];
  for (const base of from) {
    try {
      const loader = createRequire(base).resolve('tsx');
      return { loaderUrl: pathToFileURL(loader).href, apiUrl: pathToFileURL(esmApiOf(loader)).href };
    } catch {
      // not installed there
    }
  }
  return undefined;
}

/**
 * The ESM build of `tsx/esm/api`, from tsx's own exports map: `require.resolve` gives its CommonJS build, which
 * cannot register tsx when imported.
 */
function esmApiOf(loaderPath: string): string {
  for (let dir = dirname(loaderPath); dir !== dirname(dir); dir = dirname(dir)) {
    let manifest: { name?: string; exports?: Record<string, { import?: { default?: string } }> };
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof manifest;
    } catch {
      continue;
    }
    const api = manifest.name === 'tsx' ? manifest.exports?.['./esm/api']?.import?.default : undefined;
    if (api) return join(dir, api);
  }
  throw new Error(`tsx at ${loaderPath} has no ESM API`);
}

/** The tsx loader found from `modulePath`'s folder, or a `TaskModuleError`. */
export function tsxLoaderFor(modulePath: string): Extract<TypeScriptLoader, { kind: 'tsx' }> {
  const tsx = findTsx(modulePath);
  if (!tsx) throw new TaskModuleError(`Cannot load ${modulePath}: tsx is not installed (npm install tsx)`);
  return { kind: 'tsx', execArgv: ['--import', tsx.loaderUrl], ...tsx };
}

/**
 * How this process, and the sandboxes it starts, load the task module at `modulePath`: with tsx when the user
 * installed it (it takes all of TypeScript), else with Node's own type stripping; neither throws a
 * `TaskModuleError` saying what to do.
 */
export function typeScriptLoaderFor(modulePath: string): TypeScriptLoader {
  if (!isTypeScriptPath(modulePath)) return { kind: 'javascript' };
  const tsx = findTsx(modulePath);
  if (tsx) return { kind: 'tsx', execArgv: ['--import', tsx.loaderUrl], ...tsx };
  if (nativeStripping()) return { kind: 'native', execArgv: process.execArgv.filter((arg) => STRIP_FLAGS.includes(arg)) };
  const strippable = process.allowedNodeEnvironmentFlags.has('--experimental-strip-types');
  throw new TaskModuleError(
    `Cannot load the TypeScript task module ${modulePath} on Node ${process.version}: ` +
      (strippable ? 'start Node with --experimental-strip-types (e.g. NODE_OPTIONS=--experimental-strip-types), use Node >= 22.18, ' : 'use Node >= 22.18, ') +
      'install tsx next to it (npm install tsx), or compile it to JavaScript.',
  );
}

let tsxRegistered = false;

/** True when this process was started with tsx's loader (`tsx file.ts`, `node --import tsx`). */
function startedWithTsx(): boolean {
  return process.execArgv.some((arg) => /[\\/]tsx[\\/]/.test(arg));
}

/**
 * Makes `import()` of the task module work in this process: registers tsx once when that is the way. A sandbox
 * thread's boot has loaded it through tsx already (`sandboxThreadBoot.mjs`).
 */
export async function prepareTypeScript(modulePath: string): Promise<void> {
  const loader = typeScriptLoaderFor(modulePath);
  if (loader.kind !== 'tsx' || tsxRegistered || startedWithTsx() || !isMainThread) return;
  const api = (await import(loader.apiUrl)) as { register: () => unknown };
  api.register();
  tsxRegistered = true;
}
