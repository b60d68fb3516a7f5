import { UnrecoverableError } from 'bullmq';
import { ImageError } from '../image/types.js';
import { StorageError } from '../storage/storage.js';

/**
 * Bad input found by a worker (the file is not an image, the model does not exist, the job was
 * cancelled...): the job fails at once, without retries, and `message` becomes the job's `reason`.
 */
export class BadInputError extends UnrecoverableError {
  override readonly name = 'BadInputError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Decides how a stage's error is handled. Returns a BadInputError (unrecoverable: fail now, with a
 * reason) for errors that retrying cannot fix, or the error itself (transient: BullMQ retries it with
 * backoff) for everything else: network, storage unavailability, out-of-memory, a killed process.
 */
export function classifyError(err: unknown): Error {
  if (err instanceof UnrecoverableError) return err;
  if (err instanceof ImageError) return new BadInputError(err.code, err.message);
  if (err instanceof StorageError && err.code !== 'unavailable')
    return new BadInputError(err.code, err.message);
  const named = err as { name?: string; code?: string; message?: string };
  // Model runners and model files reject bad inputs and broken models with their own typed errors.
  if (named.name === 'RunnerError' && named.code !== undefined)
    return new BadInputError(named.code, String(named.message));
  if (named.name === 'ModelIoError' && named.code !== undefined)
    return new BadInputError(named.code, String(named.message));
  return err instanceof Error ? err : new Error(String(err));
}

/** True when BullMQ will not try the job again: unrecoverable, or this was the last attempt. */
export function isFinalFailure(err: Error, attemptsMade: number, attempts: number): boolean {
  return err instanceof UnrecoverableError || attemptsMade + 1 >= attempts;
}
