import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeOfMajor } from './helpers/nodeRelease.ts';
import { assertBuilt, npmEnv, packWorkspaces, PUBLISHED_WORKSPACES, type PackedPackage } from './helpers/packedPackages.ts';
import { describeRun, runCommand, type CommandRun } from './helpers/runCommand.ts';
import { eventually, isAlive, spawnProducer, spawnWorker, type Service, type SpawnAt } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';
import { AUTH } from './helpers/testToken.ts';

// Issue #13: the packages as a user gets them. `npm pack` the three published workspaces, install the tarballs
// into a fresh project outside the repo (no workspace links), and use them there as the README's quick start
// says: a plain ESM service with the installed worker bin, the installed producer bin over HTTP, a `.ts` task
// module that Node runs by type stripping, and tsc over the README's examples. On this machine's Node and on
// Node 22 and 24, installed from the npm registry into ~/.cache/taskpool/nodes (once per machine).

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The consumer project's files, copied into the temp project. */
const FIXTURES = join(ROOT, 'test', 'consumer');
const prefix = testPrefix(import.meta.url);

/** The versions the repo itself uses (already in the npm cache), for what the consumer project installs besides the tarballs. */
const repoVersion = (name: string): string => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

interface NodeUnderTest {
  label: string;
  major: number;
  /** The Node running these tests, rather than one from the registry. */
  machine: boolean;
  /** Runs `.ts` files as they are (type stripping: Node >= 22.18). */
  stripsTypes: boolean;
}

const MACHINE_MAJOR = Number(process.versions.node.split('.')[0]);
const NODES: NodeUnderTest[] = [
  { label: `${process.version} (this machine's)`, major: MACHINE_MAJOR, machine: true, stripsTypes: Boolean((process.features as { typescript?: unknown }).typescript) },
  // The newest release of each major: both strip types.
  ...[22, 24].filter((major) => major !== MACHINE_MAJOR).map((major) => ({ label: `${major}`, major, machine: false, stripsTypes: true })),
];

let workDir = '';
/** The consumer project: a temp folder with its own package.json and node_modules. */
let project = '';
let packed: PackedPackage[] = [];
const running = new Set<Service>();
const startedAt = Date.now();

function timed(step: string, since: number): void {
  console.log(`[consumer] ${step}: ${((Date.now() - since) / 1000).toFixed(1)} s`);
}

/** Keeps a started service until it exits, so `afterAll` stops whatever a failed test left running. */
function track<T extends Service>(service: T): T {
  running.add(service);
  void service.exited.then(() => running.delete(service));
  return service;
}

/** A user's environment with `node` first on the PATH: nothing of this repo's or of the test run's. */
function consumerEnv(node: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...extra };
}

function inProject(node: string): SpawnAt {
  return { project, node, baseEnv: consumerEnv(node) };
}

/** The last line of a command's stdout, parsed as JSON. */
function lastJsonLine(stdout: string): unknown {
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
}

/**
 * Makes the consumer project as the README's quick start says: `npm init`, the tarballs and zod in one `npm install` (so
 * the packages' dependencies on each other are the tarballs too), typescript and @types/node as dev tools.
 */
async function installConsumer(tarballs: PackedPackage[]): Promise<void> {
  await cp(FIXTURES, project, { recursive: true, filter: (source) => !source.endsWith('.md') });
  // Were npm to look an @taskpool/* package up anyway, it would fail here rather than fetch someone else's.
  await writeFile(join(project, '.npmrc'), '@taskpool:registry=http://127.0.0.1:9/\n');
  const flags = ['--prefer-offline', '--no-audit', '--no-fund'];
  const steps = [
    ['init', '-y'],
    ['pkg', 'set', 'type=module'],
    ['install', ...tarballs.map(({ tarball }) => tarball), `zod@${repoVersion('zod')}`, ...flags],
    ['install', '--save-dev', `typescript@${repoVersion('typescript')}`, `@types/node@${repoVersion('@types/node')}`, ...flags],
  ];
  for (const args of steps) {
    const run = await runCommand('npm', args, { cwd: project, env: npmEnv(), timeoutMs: 300_000 });
    if (run.code !== 0) throw new Error(describeRun(`npm ${args.slice(0, 2).join(' ')} (consumer project)`, run));
  }
}

beforeAll(async () => {
  await assertBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'taskpool-consumer-'));
  project = join(workDir, 'project');
  await mkdir(project);
  await mkdir(join(workDir, 'tarballs'));
  let since = Date.now();
  packed = await packWorkspaces(join(workDir, 'tarballs'));
  timed('npm pack', since);
  since = Date.now();
  await installConsumer(packed);
  timed('npm install (tarballs, zod, typescript, @types/node)', since);
}, 420_000);

afterAll(async () => {
  await Promise.all([...running].map((service) => service.stop('SIGTERM', 10_000)));
  if (workDir) await rm(workDir, { recursive: true, force: true });
  timed('whole file', startedAt);
}, 60_000);

describe("the README's quick start", () => {
  it('shows the consumer project files as they are', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Quick start\n');
    expect(start).toBeGreaterThan(0);
    const end = readme.indexOf('\n## ', start + 1);
    const text = readme.slice(start, end === -1 ? undefined : end);
    // Blocks that start with a `// <file>` comment show that file of test/consumer/, whole.
    const shown = [...text.matchAll(/^```\w*\n(\/\/ ([\w.-]+)[^\n]*\n[\s\S]*?)^```$/gm)].map(([, body, file]) => ({ file: file!, body: body! }));
    expect(shown.map(({ file }) => file).sort()).toEqual(['anywhere.ts', 'service.mjs', 'tasks.js', 'tasks.ts', 'tsconfig.json']);
    for (const { file, body } of shown) expect(body, file).toBe(await readFile(join(FIXTURES, file), 'utf8'));
  });
});

describe('the tarballs', () => {
  it('are made outside the repo, one per published package', () => {
    expect(relative(ROOT, project).startsWith('..')).toBe(true);
    expect(packed.map(({ name }) => name).sort()).toEqual(['@taskpool/core', '@taskpool/producer', '@taskpool/worker']);
  });

  it.each(PUBLISHED_WORKSPACES)('%s holds its built code, types, bins and manifest, and nothing else', async (workspace) => {
    const source = JSON.parse(await readFile(join(ROOT, workspace, 'package.json'), 'utf8')) as Manifest;
    const pack = packed.find(({ name }) => name === source.name);
    expect(pack, `no tarball of ${source.name}`).toBeDefined();
    const paths = pack!.files.map(({ path }) => path);
    // The manifest as installed is the one in the tarball.
    const manifest = JSON.parse(await readFile(join(project, 'node_modules', source.name, 'package.json'), 'utf8')) as Manifest;

    expect(paths.filter((path) => !/^(package\.json|README\.md|LICENSE(\.md)?|dist\/.+|bin\/.+)$/.test(path))).toEqual([]);
    expect(paths.filter((path) => /\.test(-d)?\.|(^|\/)(fixtures|__tests__|src)\/|tsconfig|\.tsbuildinfo$/.test(path))).toEqual([]);
    for (const file of ['README.md', 'LICENSE', 'LICENSE.md']) if (existsSync(join(ROOT, workspace, file))) expect(paths).toContain(file);

    // Every export (but the in-repo `@taskpool/source` condition) and every bin is in it; JS has its types.
    const targets = exportTargets(manifest.exports);
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) expect(paths, `export ${target}`).toContain(target);
    for (const target of targets.filter((path) => path.endsWith('.js'))) expect(targets).toContain(target.replace(/\.js$/, '.d.ts'));
    for (const [bin, target] of Object.entries(manifest.bin ?? {})) {
      const file = pack!.files.find(({ path }) => path === target.replace(/^\.\//, ''));
      expect(file, `bin ${bin}`).toBeDefined();
      expect(file!.mode & 0o111, `bin ${bin} is executable`).not.toBe(0);
    }

    expect(manifest).toMatchObject({ name: source.name, version: pack!.version, license: 'MIT', type: 'module' });
    expect(manifest.private).toBeUndefined();
    const specs = Object.values({ ...manifest.dependencies, ...manifest.peerDependencies });
    expect(specs.filter((spec) => /^(file|link|workspace):/.test(spec))).toEqual([]);
    // Dev tools stay out of what users install; the library leaves pretty logs to the apps (an optional peer).
    const devOnly = ['tsx', 'get-port', 'typescript', 'vitest', 'testcontainers', ...(source.name === '@taskpool/core' ? ['pino-pretty'] : [])];
    expect(Object.keys(manifest.dependencies ?? {}).filter((name) => devOnly.includes(name))).toEqual([]);
  });
});

describe('the install', () => {
  it('takes every @taskpool/* package from the tarballs, once, and nothing from a registry', async () => {
    const lock = JSON.parse(await readFile(join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string; version?: string }> };
    const ours = Object.entries(lock.packages).filter(([path]) => /(^|\/)node_modules\/@taskpool\/[^/]+$/.test(path));
    expect(ours.map(([path]) => path).sort()).toEqual(['node_modules/@taskpool/core', 'node_modules/@taskpool/producer', 'node_modules/@taskpool/worker']);
    for (const [path, entry] of ours) expect(entry.resolved, path).toMatch(/^file:.*\.tgz$/);

    const ls = await runCommand('npm', ['ls', '--all', '--json'], { cwd: project, env: npmEnv(), timeoutMs: 60_000 });
    expect(ls.code, describeRun('npm ls --all', ls)).toBe(0);
  });

  it('installs the three bins, and no tsx: a .ts task module is up to Node itself', () => {
    for (const bin of ['taskpool-worker', 'taskpool-producer', 'taskpool']) expect(existsSync(join(project, 'node_modules', '.bin', bin)), bin).toBe(true);
    expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false);
  });
});

describe('TypeScript, with the recommended tsconfig.json', () => {
  const tsc = (): Promise<CommandRun> =>
    runCommand(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.', '--pretty', 'false'], {
      cwd: project,
      env: consumerEnv(process.execPath),
      timeoutMs: 180_000,
    });

  it('compiles the README examples (typed.ts), the .ts task module and script', async () => {
    const run = await tsc();
    timed('tsc --noEmit', Date.now() - run.ms);
    expect(run.code, describeRun('tsc --noEmit -p .', run)).toBe(0);
  }, 180_000);

  it('rejects each line that typed.ts marks with @ts-expect-error once the mark is gone', async () => {
    const lines = (await readFile(join(project, 'typed.ts'), 'utf8')).split('\n');
    const marked = lines.flatMap((line, index) => (line.trimStart().startsWith('// @ts-expect-error') ? [index] : []));
    expect(marked.length).toBeGreaterThanOrEqual(5);
    // One copy per mark, without it; one tsc run checks them all.
    const copies = marked.map((_, k) => `typed-unmarked-${k}.ts`);
    await Promise.all(marked.map((index, k) => writeFile(join(project, copies[k]!), lines.filter((_, i) => i !== index).join('\n'))));
    try {
      const run = await tsc();
      expect(run.code, describeRun('tsc over the unmarked copies', run)).not.toBe(0);
      const errors = run.stdout.split('\n').flatMap((line) => {
        const found = /^(\S+)\((\d+),\d+\): error TS\d+/.exec(line);
        return found ? [{ file: found[1]!, line: Number(found[2]) }] : [];
      });
      expect(errors.length, run.stdout).toBeGreaterThan(0);
      // Only the copies fail, each on the line that its mark was above (now one line higher: 0-based index + 1).
      expect(errors.filter(({ file }) => !copies.includes(file)), run.stdout).toEqual([]);
      for (const [k, index] of marked.entries()) {
        const lines = [...new Set(errors.filter(({ file }) => file === copies[k]).map(({ line }) => line))];
        expect(lines, `${copies[k]}: the line after the mark on line ${index + 1}`).toEqual([index + 1]);
      }
    } finally {
      await Promise.all(copies.map((copy) => rm(join(project, copy), { force: true })));
    }
  }, 180_000);
});

describe.each(NODES)('on Node $label', ({ major, machine, stripsTypes }) => {
  const jsPrefix = `${prefix}-n${major}`;
  let node = '';
  let version = '';
  let worker: Awaited<ReturnType<typeof spawnWorker>>;

  beforeAll(async () => {
    let since = Date.now();
    node = machine ? process.execPath : await nodeOfMajor(major, npmEnv());
    version = (await runCommand(node, ['--version'], { cwd: project, env: consumerEnv(node) })).stdout.trim();
    expect(version).toMatch(new RegExp(`^v${major}\\.`));
    timed(`Node ${version} ready`, since);
    since = Date.now();
    // As a user runs it: `node node_modules/.bin/taskpool-worker --tasks tasks.js`, REDIS_URL and TASKPOOL_PREFIX set.
    worker = track(await spawnWorker({ redisUrl: redisUrl(), prefix: jsPrefix, tasks: 'tasks.js', concurrency: 2, env: { LOG_LEVEL: 'info' }, at: inProject(node) }));
    expect(servedTasks(worker)).toEqual(['math.square', 'math.sumSqrt', 'math.total']);
    timed(`Node ${version}: worker ready`, since);
  }, 300_000);

  it('a plain ESM service submits a task, maps, and runs a chord on the installed worker bin', async () => {
    const run = await runCommand(node, ['service.mjs'], { cwd: project, env: consumerEnv(node, { REDIS_URL: redisUrl(), TASKPOOL_PREFIX: jsPrefix }), timeoutMs: 60_000 });
    timed(`Node ${version}: node service.mjs`, Date.now() - run.ms);
    expect(run.code, describeRun('node service.mjs', run)).toBe(0);
    const out = lastJsonLine(run.stdout) as { one: { pid: number } };
    expect(out).toEqual({
      one: { sum: expect.closeTo(666_666_166.46, 0), pid: expect.any(Number), node: version },
      squares: [1, 4, 9, 16, 25],
      sumOfSquares: 14,
      refused: 'INVALID_INPUT',
    });
    expect(worker.sandboxPids).toContain(out.one.pid);
  });

  it('the installed producer bin takes a task over HTTP, answers its result with ?waitMs=, and /health', async () => {
    const since = Date.now();
    const producer = track(await spawnProducer({ redisUrl: redisUrl(), prefix: jsPrefix, tasks: 'tasks.js', env: { LOG_LEVEL: 'info' }, at: inProject(node) }));
    const health = await fetch(`${producer.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });

    const post = (headers: Record<string, string>) =>
      fetch(`${producer.url}/v1/tasks/math.sumSqrt`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ n: 1000 }) });
    expect((await post({})).status).toBe(401);
    const submitted = await post(AUTH);
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const job = await fetch(`${producer.url}/v1/jobs/${id}?waitMs=20000`, { headers: AUTH });
    expect(job.status).toBe(200);
    expect(await job.json()).toMatchObject({ id, task: 'math.sumSqrt', state: 'completed', result: { sum: expect.closeTo(21_065.83, 1), node: version } });

    expect(await producer.stop()).toEqual({ code: 0, signal: null });
    timed(`Node ${version}: producer`, since);
  });

  it.runIf(stripsTypes)('a worker serves a .ts task module, and a .ts script submits to it: Node strips the types, no tsx', async () => {
    const since = Date.now();
    const tsPrefix = `${jsPrefix}-ts`;
    const tsWorker = track(await spawnWorker({ redisUrl: redisUrl(), prefix: tsPrefix, tasks: 'tasks.ts', concurrency: 1, env: { LOG_LEVEL: 'info' }, at: inProject(node) }));
    expect(servedTasks(tsWorker)).toEqual(['math.sumSqrt']);
    const run = await runCommand(node, ['anywhere.ts'], { cwd: project, env: consumerEnv(node, { REDIS_URL: redisUrl(), TASKPOOL_PREFIX: tsPrefix }), timeoutMs: 60_000 });
    expect(run.code, describeRun('node anywhere.ts', run)).toBe(0);
    const out = lastJsonLine(run.stdout) as { pid: number };
    expect(out).toEqual({ sum: expect.closeTo(666_666_166.46, 0), pid: expect.any(Number) });
    expect(tsWorker.sandboxPids).toContain(out.pid);
    expect(await tsWorker.stop()).toEqual({ code: 0, signal: null });
    timed(`Node ${version}: .ts worker and script`, since);
  });

  it.runIf(!stripsTypes)('a worker refuses a .ts task module, saying what to do, where Node cannot strip types and tsx is not installed', async () => {
    const run = await runCommand(node, [join(project, 'node_modules', '.bin', 'taskpool-worker'), '--tasks', 'tasks.ts'], {
      cwd: project,
      env: consumerEnv(node, { REDIS_URL: redisUrl(), TASKPOOL_PREFIX: `${jsPrefix}-ts` }),
      timeoutMs: 60_000,
    });
    expect(run.code, describeRun('taskpool-worker --tasks tasks.ts', run)).toBe(1);
    // One sentence, no stack.
    expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1);
    expect(run.stderr).toMatch(/Cannot load the TypeScript task module .*tasks\.ts on Node v[\d.]+: .*use Node >= 22\.18, install tsx/);
  });

  it('the worker stops on SIGTERM with exit code 0, and its sandboxes with it', async () => {
    const sandboxes = worker.sandboxPids;
    expect(sandboxes.length).toBe(2);
    expect(await worker.stop()).toEqual({ code: 0, signal: null });
    await eventually(() => sandboxes.every((pid) => !isAlive(pid)), 'the sandboxes to exit');
  });
});

/** The task names of a worker's `worker:ready` line, sorted. */
function servedTasks(worker: Service): string[] {
  const ready = worker.lines.find((line) => line.event === 'worker:ready');
  return [...((ready?.tasks as string[] | undefined) ?? [])].sort();
}

/** What the tests read of a package.json. */
interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  type?: string;
  exports?: unknown;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Every file an `exports` map points at, without `./`, but for the in-repo `@taskpool/source` condition. */
function exportTargets(exports: unknown): string[] {
  if (typeof exports === 'string') return [exports.replace(/^\.\//, '')];
  if (exports === null || typeof exports !== 'object') return [];
  return Object.entries(exports).flatMap(([key, value]) => (key === '@taskpool/source' ? [] : exportTargets(value)));
}
