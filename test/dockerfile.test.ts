import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// What a user of the image and of docker-compose.yml relies on, read from the files (no Docker engine needed).

/** The Node.js lines taskpool supports (Node 20 is EOL). */
const SUPPORTED_NODE_MAJORS = [22, 24];

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions: comments and blank lines dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return logical.map((line) => {
    const [keyword = '', ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
}

const dockerfile = instructions(readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8'));
/** `ARG NAME=default` lines before the first FROM: the only ones a FROM line can use. */
const globalArgs = new Map(
  dockerfile
    .slice(0, dockerfile.findIndex((i) => i.keyword === 'FROM'))
    .filter((i) => i.keyword === 'ARG' && i.args.includes('='))
    .map((i) => [i.args.slice(0, i.args.indexOf('=')), i.args.slice(i.args.indexOf('=') + 1)] as const),
);
const stages = dockerfile.reduce<Instruction[][]>((all, i) => {
  if (i.keyword === 'FROM') all.push([]);
  all.at(-1)?.push(i);
  return all;
}, []);
const finalStage = stages.at(-1) ?? [];
const finalArgs = (keyword: string): string[] => finalStage.filter((i) => i.keyword === keyword).map((i) => i.args);

/** A FROM line's image, with global ARG defaults put in: `node:${NODE_MAJOR}-bookworm-slim AS build` → `node:24-bookworm-slim`. */
function baseImage(from: string): string {
  const image = from.replace(/^--platform=\S+\s+/, '').split(/\s+/)[0] ?? '';
  return image.replace(/\$\{?(\w+)\}?/g, (_match, name: string) => globalArgs.get(name) ?? `<unset ${name}>`);
}

const compose = readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8').split('\n');

/** The compose service (a two-space key under `services:`) or top-level block that a line belongs to. */
function ownerOf(lineIndex: number): string {
  for (let i = lineIndex; i >= 0; i--) {
    const line = compose[i] ?? '';
    const service = /^ {2}([\w-]+):\s*(#.*)?$/.exec(line);
    if (service) return service[1] ?? '';
    const topLevel = /^([\w-]+):/.exec(line);
    if (topLevel) return topLevel[1] ?? '';
  }
  return '';
}

describe('Dockerfile', () => {
  it('builds in one stage and runs from another that takes the build from it', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const buildStages = stages.slice(0, -1).map((stage) => /\bAS\s+(\S+)/i.exec(stage[0]?.args ?? '')?.[1]);
    expect(stages.slice(0, -1).some((stage) => stage.some((i) => i.keyword === 'RUN' && i.args.includes('npm run build')))).toBe(true);
    expect(finalArgs('COPY').some((args) => buildStages.some((name) => name !== undefined && args.includes(`--from=${name}`)))).toBe(true);
    expect(finalArgs('RUN').some((args) => args.includes('npm run build'))).toBe(false);
    // Production dependencies only.
    expect(finalArgs('RUN').some((args) => /npm ci\b.*--omit=dev/.test(args))).toBe(true);
    expect(finalArgs('ENV').some((args) => /\bNODE_ENV=production\b/.test(args))).toBe(true);
  });

  it('runs as a user other than root', () => {
    const user = finalArgs('USER').at(-1);
    expect(user).toBeDefined();
    expect(user?.split(':')[0]).not.toMatch(/^(root|0)$/);
  });

  it('has a HEALTHCHECK that asks the producer’s /health, and an init as PID 1', () => {
    const healthcheck = finalArgs('HEALTHCHECK').at(-1) ?? '';
    expect(healthcheck).not.toMatch(/^NONE\b/i);
    expect(healthcheck).toMatch(/\bCMD\b.*\/health/);
    expect(finalArgs('ENTRYPOINT').at(-1)).toMatch(/tini/);
  });

  it('is based on a supported Node.js line in every stage, named by its major version', () => {
    const images = stages.map((stage) => baseImage(stage[0]?.args ?? ''));
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const image of images) {
      const major = /^node:(\d+)[.-]/.exec(image)?.[1];
      expect(major, image).toBeDefined();
      expect(SUPPORTED_NODE_MAJORS, image).toContain(Number(major));
    }
  });
});

describe('docker-compose.yml', () => {
  it('publishes the producer’s port and nothing else (not Redis)', () => {
    const portKeys = compose.flatMap((line, index) => (/^\s*ports:/.test(line) ? [index] : []));
    expect(portKeys.map(ownerOf)).toEqual(['producer']);
    const mappings: string[] = [];
    for (const line of compose.slice((portKeys[0] ?? 0) + 1)) {
      const entry = /^\s+-\s*"?([^"#\s]+)"?/.exec(line);
      if (!entry) break;
      mappings.push(entry[1] ?? '');
    }
    const port = /^EXPOSE\s+(\d+)/.exec(`EXPOSE ${finalArgs('EXPOSE').at(-1) ?? ''}`)?.[1];
    expect(mappings).toEqual([expect.stringMatching(new RegExp(`:${port}$`))]);
    expect(compose.some((line) => /^\s*network_mode:\s*"?host/.test(line))).toBe(false);
  });

  it('gives the producer and every worker one objects volume as TASKPOOL_OBJECTS_DIR, writable by the image\'s user', () => {
    const dir = '/var/lib/taskpool/objects';
    const mounts = compose.flatMap((line, index) => (line.trim() === `- objects:${dir}` ? [ownerOf(index)] : []));
    expect(mounts.sort()).toEqual(['producer', 'worker']);
    const settings = compose.flatMap((line, index) => (line.trim() === `TASKPOOL_OBJECTS_DIR: ${dir}` ? [ownerOf(index)] : []));
    expect(settings.sort()).toEqual(['producer', 'worker']);
    expect(compose).toContain('  objects:');
    // Created and chowned before the image switches to its user: a new named volume takes the mount point's owner.
    const chown = finalStage.findIndex((i) => i.keyword === 'RUN' && i.args.includes(`chown node:node ${dir}`));
    const user = finalStage.findIndex((i) => i.keyword === 'USER' && i.args === 'node');
    expect(chown).toBeGreaterThan(-1);
    expect(chown).toBeLessThan(user);
  });

  it('refuses to start without TASKPOOL_API_TOKENS', () => {
    expect(compose.some((line) => /^\s+TASKPOOL_API_TOKENS:\s*\$\{TASKPOOL_API_TOKENS:\?/.test(line))).toBe(true);
  });
});
