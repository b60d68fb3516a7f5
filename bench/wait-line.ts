import type { ChildProcess } from 'node:child_process';

/** Resolves with the first match of `re` (its group 1 if any) in a child's stdout; rejects if it exits first. */
export function waitLine(child: ChildProcess, re: RegExp, what: string): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    const on = (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) res(m[1] ?? m[0]);
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (c) => rej(new Error(`${what} exited ${c}: ${out.slice(-2000)}`)));
  });
}
