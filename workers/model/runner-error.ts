/** Errors of model loading and running; `code` is stable, `message` says what was wrong (paths, shapes). */
export type RunnerErrorCode = 'bad-input' | 'bad-model' | 'missing-file' | 'bad-option';

export class RunnerError extends Error {
  override readonly name = 'RunnerError';
  constructor(
    readonly code: RunnerErrorCode,
    message: string,
  ) {
    super(message);
  }
}
