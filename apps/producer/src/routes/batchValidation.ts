import { ValidationError, type InputIssues } from '@taskpool/core';

/** The problems of one input of a batch. */
export type BatchItemIssues = InputIssues;

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
