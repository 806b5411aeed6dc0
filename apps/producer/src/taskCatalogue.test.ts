import { defineTask } from '@taskpool/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { taskCatalogue } from './taskCatalogue.ts';

const greet = defineTask({
  name: 'hello.greet',
  input: z.object({ name: z.string().min(1), delayMs: z.number().int().default(0) }),
  output: z.object({ greeting: z.string(), at: z.date().transform((d) => d.getTime()) }),
  defaults: { attempts: 3, queue: 'io' },
  run: ({ name }) => ({ greeting: `Hello, ${name}!`, at: new Date() }),
});

describe('taskCatalogue', () => {
  const [entry] = taskCatalogue(new Map([[greet.name, greet]]));

  it('lists name, queue and defaults', () => {
    expect(entry).toMatchObject({ name: 'hello.greet', queue: 'io', defaults: { attempts: 3, queue: 'io' } });
  });

  it("describes the input as a caller sends it: a defaulted field is optional", () => {
    expect(entry!.input).toMatchObject({
      type: 'object',
      properties: { name: { type: 'string', minLength: 1 }, delayMs: { type: 'integer', default: 0 } },
      required: ['name'],
    });
    expect(entry!.input).not.toHaveProperty('$schema');
  });

  it('turns what JSON Schema cannot say into "anything" instead of failing', () => {
    expect(entry!.output).toMatchObject({ type: 'object', properties: { greeting: { type: 'string' } } });
  });
});
