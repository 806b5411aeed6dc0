import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isTask, type AnyTask } from './defineTask.ts';
import { TaskModuleError } from './errors.ts';
import { prepareTypeScript } from './typeScriptSupport.ts';

/** A user's task module, loaded: its tasks by name and its optional per-process hooks. */
export interface TaskModule {
  /** Absolute path of the module. */
  readonly path: string;
  readonly tasks: ReadonlyMap<string, AnyTask>;
  /** Runs once in each sandbox process before its first task (load a model once). */
  readonly setup?: () => unknown;
  /** Runs once in each sandbox process before it exits. */
  readonly teardown?: () => unknown;
}

/**
 * Imports a task module (a path, relative to the working directory, or a file URL) and registers every exported
 * task. A `.ts` module loads with Node's own type stripping where this Node has it, else with tsx when installed;
 * with neither, it throws a `TaskModuleError` saying what to do.
 */
export async function loadTaskModule(modulePath: string): Promise<TaskModule> {
  const path = modulePath.startsWith('file:') ? new URL(modulePath).pathname : resolve(modulePath);
  await prepareTypeScript(path);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new TaskModuleError(`Cannot load task module ${path}: ${(error as Error).message}`, { cause: error });
  }
  const tasks = collectTasks(exports, path);
  const setup = hook(exports, 'setup', path);
  const teardown = hook(exports, 'teardown', path);
  return { path, tasks, ...(setup && { setup }), ...(teardown && { teardown }) };
}

/** Every task among a module's exports, by name; two tasks with one name are an error. */
export function collectTasks(exports: Record<string, unknown>, where = 'task module'): Map<string, AnyTask> {
  const tasks = new Map<string, AnyTask>();
  for (const [exportName, value] of Object.entries(exports)) {
    if (!isTask(value)) continue;
    const seen = tasks.get(value.name);
    if (seen && seen !== value) {
      throw new TaskModuleError(`Two tasks named ${JSON.stringify(value.name)} in ${where} (export ${exportName})`);
    }
    tasks.set(value.name, value);
  }
  if (tasks.size === 0) throw new TaskModuleError(`No exported defineTask(...) found in ${where}`);
  return tasks;
}

function hook(exports: Record<string, unknown>, name: 'setup' | 'teardown', path: string): (() => unknown) | undefined {
  const value = exports[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new TaskModuleError(`Export ${name} of ${path} must be a function`);
  return value as () => unknown;
}
