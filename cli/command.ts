/** A `kiosk` sub-command: one file under cli/commands/ exporting `command`. */
export interface Command {
  /** The word after `kiosk`. */
  readonly name: string;
  /** One line for `kiosk --help`. */
  readonly summary: string;
  /** Full usage text for `kiosk NAME --help`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** A mistake in how the command was called: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
