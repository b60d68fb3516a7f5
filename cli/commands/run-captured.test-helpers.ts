import { vi } from 'vitest';
import type { Command } from '../command.js';

/** Runs a kiosk command with its stdout and stderr captured (not printed): its exit code and what it wrote. */
export async function runCaptured(
  command: Pick<Command, 'run'>,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await command.run(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
