/**
 * Finding and cleaning up the processes of a real local kiosk started by a test (`kiosk start` in a temp
 * folder): those working in the folder, those whose environment carries `<envName>=<folder>` (npm's INIT_CWD,
 * or a tag the test sets; every child inherits it), and its redis-server, found by the port in
 * .kiosk/redis.url (Redis overwrites its environment with its process title, `redis-server 127.0.0.1:PORT`).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface KioskProc {
  readonly pid: number;
  readonly cmd: string;
}

/** True while `pid` runs (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\S+ \S+ Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/\(.*\)/, 'x'));
  } catch {
    return false;
  }
}

export class KioskProcs {
  /** Every pid found so far, killed by killAll if still alive. */
  private readonly seen = new Set<number>();

  constructor(private readonly envName: string) {}

  /** The live processes of the kiosk in `cwd`. */
  find(cwd: string): KioskProc[] {
    let redisTitle: string | undefined;
    try {
      const port = new URL(readFileSync(join(cwd, '.kiosk', 'redis.url'), 'utf8').trim()).port;
      redisTitle = `redis-server 127.0.0.1:${port}`;
    } catch {
      redisTitle = undefined;
    }
    const found: KioskProc[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
      try {
        const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
        const env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
        const dir = readlinkSync(`/proc/${name}/cwd`);
        const inside = dir === cwd || dir.startsWith(`${cwd}/`); // redis-server works in .kiosk/redis
        if (!inside && !env.includes(`${this.envName}=${cwd}`) && cmd !== redisTitle) continue;
        if (alive(Number(name))) found.push({ pid: Number(name), cmd });
      } catch {
        // gone, or not ours
      }
    }
    for (const p of found) this.seen.add(p.pid);
    return found;
  }

  /** The kiosk's redis-server(s). */
  redisOf(cwd: string): KioskProc[] {
    return this.find(cwd).filter((p) => p.cmd.startsWith('redis-server '));
  }

  /** SIGKILLs every process of these folders' kiosks, and every one seen before, that still runs. */
  killAll(cwds: readonly string[]): void {
    for (const d of cwds) this.find(d);
    for (const pid of this.seen)
      if (alive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
  }
}
