import { toIssues, ValidationError, type AnyTask, type ValidationIssue } from '@taskpool/core';

/** The problems of one input of a batch. */
export interface BatchItemIssues {
  index: number;
  issues: ValidationIssue[];
}

/**
 * Some inputs of a batch are invalid: the whole batch is refused (400 `INVALID_INPUT`). `issues` lists every
 * problem with its path from the body (`['inputs', 3, 'n']`); `items` groups them by input index.
 */
export class BatchValidationError extends ValidationError {
  override name = 'BatchValidationError';
  constructor(
    task: string,
    readonly items: BatchItemIssues[],
  ) {
    super(
      'INVALID_INPUT',
      task,
      items.flatMap(({ index, issues }) => issues.map((issue) => ({ ...issue, path: ['inputs', index, ...issue.path] }))),
    );
  }
}

/** Parses every input with the task's schema; throws one {@link BatchValidationError} naming every bad one. */
export function parseBatch(task: AnyTask, inputs: readonly unknown[]): void {
  const items: BatchItemIssues[] = [];
  inputs.forEach((input, index) => {
    const parsed = task.input.safeParse(input);
    if (!parsed.success) items.push({ index, issues: toIssues(parsed.error) });
  });
  if (items.length > 0) throw new BatchValidationError(task.name, items);
}
