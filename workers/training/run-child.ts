/**
 * Starts ./train-child.ts in its own Node process (with tsx, as the rest of the code runs) and turns its
 * messages into callbacks and one promise.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ChildStart } from './child-protocol.js';

const CHILD = fileURLToPath(new URL('./train-child.ts', import.meta.url));

export type DoneMessage = Extract<ChildMessage, { type: 'done' }>;

/** The child reported bad input (data it cannot read, a bad option): retrying cannot help. */
export class ChildBadInputError extends Error {
  override readonly name = 'ChildBadInputError';
}

export interface RunningChild {
  /** Resolves with the `done` message; rejects when the child reports an error or exits without one. */
  readonly done: Promise<DoneMessage>;
  readonly process: ChildProcess;
  kill(): void;
}

/** Children still running: killed when this process exits, so a stopped worker never leaves one behind. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function runTrainingChild(start: ChildStart, onMessage: (m: ChildMessage) => void): RunningChild {
  const child = fork(CHILD, [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const done = new Promise<DoneMessage>((resolve, reject) => {
    let result: DoneMessage | undefined;
    let failure: Error | undefined;
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'done') result = m;
      else if (m.type === 'error')
        failure = m.badInput ? new ChildBadInputError(m.message) : new Error(m.message);
      else onMessage(m);
    });
    child.on('error', (err) => (failure ??= err));
    child.on('exit', (code, signal) => {
      if (result) resolve(result);
      else
        reject(
          failure ?? new Error(`the training process exited (${signal ?? `code ${code}`}) before finishing`),
        );
    });
  });
  child.send(start);
  return {
    done,
    process: child,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
