import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTask } from './defineTask.ts';
import { TaskModuleError } from './errors.ts';
import { collectTasks } from './loadTaskModule.ts';

const make = (name: string) => defineTask({ name, input: z.object({}), output: z.null(), run: () => null });

describe('collectTasks', () => {
  it('registers every exported task by name and ignores other exports', () => {
    const a = make('a.one');
    const b = make('b.two');
    const tasks = collectTasks({ a, b, helper: () => 1, constant: 3, alias: a });
    expect([...tasks.keys()].sort()).toEqual(['a.one', 'b.two']);
  });

  it('refuses two different tasks with one name, and a module without tasks', () => {
    expect(() => collectTasks({ x: make('dup'), y: make('dup') })).toThrow(TaskModuleError);
    expect(() => collectTasks({ helper: () => 1 })).toThrow(/No exported defineTask/);
  });

  it('refuses a bad task name', () => {
    expect(() => make('has space')).toThrow(/Invalid task name/);
  });
});
