import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const kiosk = fileURLToPath(new URL('../bin/kiosk.mjs', import.meta.url));

export interface KioskRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunKioskOptions {
  /** Written to the command's stdin, then closed. @default - stdin ignored */
  readonly stdin?: string;
  /** The command's whole environment, besides PATH. @default - this process's environment */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** Runs the real CLI (`node bin/kiosk.mjs ARGS`) in a child process and collects its exit code and output. */
export function runKiosk(args: readonly string[], o: RunKioskOptions = {}): Promise<KioskRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kiosk, ...args], {
      ...(o.cwd ? { cwd: o.cwd } : {}),
      ...(o.env ? { env: { PATH: process.env.PATH, ...o.env } } : {}),
      stdio: [o.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (o.stdin !== undefined) child.stdin!.end(o.stdin);
  });
}
