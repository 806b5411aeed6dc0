import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { workerEnvSchema } from '../apps/worker/src/env.ts';
import { producerEnvSchema } from '../apps/producer/src/env.ts';
import { cliEnvSchema } from '../apps/producer/src/cli/env.ts';
import { speedupEnvSchema } from '../examples/env.ts';
import { startEnvSchema } from '../scripts/env.ts';

const listed = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
  .map((line) => line.slice(0, line.indexOf('=')));

const schemas = { worker: workerEnvSchema, producer: producerEnvSchema, cli: cliEnvSchema, start: startEnvSchema, speedup: speedupEnvSchema };
const known = new Set(Object.values(schemas).flatMap((schema) => Object.keys(schema.shape)));

describe('.env.example', () => {
  it('lists every variable of every env schema, once', () => {
    expect([...known].filter((key) => !listed.includes(key))).toEqual([]);
    expect(listed.length).toBe(new Set(listed).size);
  });

  it('lists nothing that no schema reads', () => {
    expect(listed.filter((key) => !known.has(key))).toEqual([]);
  });

  it('holds defaults that every schema accepts', () => {
    const values = Object.fromEntries(
      readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
        .split('\n')
        .filter((line) => /^[A-Z][A-Z0-9_]*=./.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    for (const [name, schema] of Object.entries(schemas)) {
      const parsed = schema.safeParse(Object.fromEntries(Object.entries(values).filter(([k]) => k in schema.shape)));
      expect(parsed.success, `${name}: ${parsed.success ? '' : parsed.error.message}`).toBe(true);
    }
  });
});
