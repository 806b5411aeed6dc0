import type { AnyTask } from './defineTask.ts';
import type { ValidationIssue } from './errors.ts';
import { checkInput } from './parseTaskIO.ts';
import { encodeValue, type EncodedValue } from './valueCodec.ts';

const made = new WeakSet<object>();

/**
 * Inputs of one task, each checked by the task's schema and pruned to what it keeps, encoded, ready to store
 * (see `checkInput`). Only {@link checkInputs} makes them, so whoever takes them (`admin.submitBatch`) knows
 * they were checked, once, where they entered.
 */
export class CheckedInputs {
  private constructor(
    readonly task: AnyTask,
    readonly values: readonly EncodedValue[],
  ) {}

  /** @internal */
  static make(task: AnyTask, values: EncodedValue[]): CheckedInputs {
    const inputs = new CheckedInputs(task, values);
    made.add(inputs);
    return inputs;
  }

  /** True for inputs made by {@link checkInputs} for `task`. */
  static isFor(value: unknown, task: AnyTask): value is CheckedInputs {
    return value instanceof CheckedInputs && made.has(value) && value.task === task;
  }
}

/** The problems of one input of a batch, by its index. */
export interface InputIssues {
  index: number;
  issues: ValidationIssue[];
}

/** Checks inputs of a task: all of them ready to store, or the problems of every invalid one. */
export function checkInputs(task: AnyTask, inputs: readonly unknown[]): { ok: true; inputs: CheckedInputs } | { ok: false; items: InputIssues[] } {
  const values: EncodedValue[] = [];
  const items: InputIssues[] = [];
  inputs.forEach((input, index) => {
    const checked = checkInput(task, input);
    if (checked.ok) values.push(encodeValue(checked.value));
    else items.push({ index, issues: checked.issues });
  });
  return items.length > 0 ? { ok: false, items } : { ok: true, inputs: CheckedInputs.make(task, values) };
}
