/**
 * Local driver: worker replicas are child processes on this machine. Scaling up spawns `command(pool)`;
 * scaling down sends SIGTERM to the newest workers, which drain (the worker entry closes its BullMQ workers
 * with `worker.close()`: no new job is taken, the running one finishes, then the process exits). The driver
 * never sends SIGKILL: a draining worker is counted in `actual` until it exits, never in `replicas`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScaleDriver } from './driver.js';

/** How to start one worker of a pool. */
export interface WorkerCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The kiosk's worker entry, as `kiosk start` runs it: `node --import tsx workers/main.ts --pool <pool>` from
 * the repository root (REDIS_URL, the bucket and the rest come from the inherited environment).
 *
 * On a machine with 2 cores or fewer the workers run with kioskNodeFlags (below).
 */
export function kioskWorkerCommand(pool: string, cores = availableParallelism()): WorkerCommand {
  return {
    command: process.execPath,
    args: [
      ...kioskNodeFlags(cores),
      '--import',
      'tsx',
      join(REPO_ROOT, 'workers', 'main.ts'),
      '--pool',
      pool,
    ],
    cwd: REPO_ROOT,
  };
}

/**
 * Node flags of the local kiosk's processes (API and workers). On a machine with 2 cores or fewer, V8's
 * `--single-threaded-gc`: there, parallel GC threads competed with the other kiosk processes and a CPU
 * worker fell into storms of full GCs (89-131 per 230 trivial jobs, 16 → 26-33 ms CPU per job) in 5 of 12
 * benchmark runs; with the flag, in 0 of 7.
 */
export function kioskNodeFlags(cores = availableParallelism()): string[] {
  return cores <= 2 ? ['--single-threaded-gc'] : [];
}

/** One line about a worker process (start, drain, exit), for the autoscaler's log. */
export interface WorkerEvent {
  readonly event: 'worker-start' | 'worker-drain' | 'worker-exit' | 'worker-backoff';
  readonly pool: string;
  readonly pid: number | undefined;
  readonly code?: number | null;
  readonly signal?: string | null;
  /** Exit while running (not asked to drain): a crash, replaced at the next decision. */
  readonly unexpected?: boolean;
  /** worker-backoff: no new worker of this pool before this time (ms since epoch). */
  readonly retryAtMs?: number;
}

export interface LocalDriverOptions {
  /** The worker command of a pool. @default kioskWorkerCommand */
  readonly command?: (pool: string) => WorkerCommand;
  /** Worker stdout/stderr: inherited (default) or passed line by line to `onOutput`. */
  readonly onOutput?: (pool: string, pid: number | undefined, line: string) => void;
  readonly onEvent?: (e: WorkerEvent) => void;
  /**
   * Crash-loop back-off: a worker that dies unexpectedly within `minUptimeMs` of its start delays the next
   * start of its pool by 1 s, doubling per such crash up to `maxBackoffMs` (reset by a worker that lives
   * longer). @default { minUptimeMs: 10000, maxBackoffMs: 60000 }
   */
  readonly backoff?: { readonly minUptimeMs: number; readonly maxBackoffMs: number };
  /** Added to every worker's environment (over this process's). @default - none */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Start each worker in its own process group, so a terminal's Ctrl-C reaches only this process, which then
   * drains the workers with one SIGTERM each. Without it the workers would get the Ctrl-C themselves and
   * then the driver's SIGTERM — a second signal, which returns their running jobs to the queue instead of
   * finishing them. @default true
   */
  readonly detached?: boolean;
}

interface WorkerProcess {
  readonly pool: string;
  readonly child: ChildProcess;
  draining: boolean;
  readonly exited: Promise<void>;
}

export class LocalProcessDriver implements ScaleDriver {
  readonly name = 'local';
  private readonly procs = new Set<WorkerProcess>();
  /** pool → consecutive quick crashes and when the next start is allowed. */
  private readonly crashes = new Map<string, { count: number; retryAtMs: number }>();
  private readonly command: (pool: string) => WorkerCommand;
  private closing = false;

  constructor(private readonly o: LocalDriverOptions = {}) {
    this.command = o.command ?? kioskWorkerCommand;
  }

  private of(pool: string): WorkerProcess[] {
    return [...this.procs].filter((p) => p.pool === pool);
  }

  async replicas(pool: string): Promise<number> {
    return this.of(pool).filter((p) => !p.draining).length;
  }

  async actual(pool: string): Promise<number> {
    return this.of(pool).length;
  }

  /** Pids of the live workers of a pool (draining included). */
  pids(pool: string): number[] {
    return this.of(pool).flatMap((p) => (p.child.pid === undefined ? [] : [p.child.pid]));
  }

  async scale(pool: string, replicas: number): Promise<void> {
    if (!Number.isInteger(replicas) || replicas < 0)
      throw new RangeError(`replicas must be an integer >= 0; got ${replicas}`);
    if (this.closing) throw new Error('the local driver is closing; it starts no more workers');
    const running = this.of(pool).filter((p) => !p.draining);
    const crash = this.crashes.get(pool);
    if (running.length < replicas && crash && Date.now() < crash.retryAtMs) {
      this.o.onEvent?.({ event: 'worker-backoff', pool, pid: undefined, retryAtMs: crash.retryAtMs });
    } else for (let i = running.length; i < replicas; i++) this.start(pool);
    // Newest first: the oldest workers have warm caches (a loaded model).
    for (const p of running.slice(replicas).reverse()) this.drain(p);
  }

  private start(pool: string): void {
    const c = this.command(pool);
    const startedAt = Date.now();
    const piped = this.o.onOutput !== undefined;
    const child = spawn(c.command, [...c.args], {
      cwd: c.cwd,
      env: { ...process.env, ...this.o.env, ...c.env },
      stdio: piped ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
      detached: this.o.detached ?? true,
    });
    if (piped) {
      for (const stream of [child.stdout, child.stderr]) {
        let rest = '';
        stream?.setEncoding('utf8');
        stream?.on('data', (chunk: string) => {
          const lines = (rest + chunk).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) this.o.onOutput?.(pool, child.pid, line);
        });
      }
    }
    // The listeners run after `proc` is initialised (exit/error are emitted asynchronously).
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.procs.delete(proc);
        this.noteExit(pool, !proc.draining && Date.now() - startedAt < this.minUptimeMs);
        this.o.onEvent?.({
          event: 'worker-exit',
          pool,
          pid: child.pid,
          code,
          signal,
          ...(proc.draining ? {} : { unexpected: true }),
        });
        resolve();
      });
      child.once('error', (err) => {
        this.o.onOutput?.(pool, child.pid, `spawn failed: ${err.message}`);
        // 'exit' may not follow a spawn failure: resolve here too.
        if (this.procs.delete(proc)) this.noteExit(pool, true);
        resolve();
      });
    });
    const proc: WorkerProcess = { pool, child, draining: false, exited };
    this.procs.add(proc);
    this.o.onEvent?.({ event: 'worker-start', pool, pid: child.pid });
  }

  private get minUptimeMs(): number {
    return this.o.backoff?.minUptimeMs ?? 10_000;
  }

  private noteExit(pool: string, quickCrash: boolean): void {
    if (!quickCrash) {
      this.crashes.delete(pool);
      return;
    }
    const count = (this.crashes.get(pool)?.count ?? 0) + 1;
    const delay = Math.min(this.o.backoff?.maxBackoffMs ?? 60_000, 1000 * 2 ** (count - 1));
    this.crashes.set(pool, { count, retryAtMs: Date.now() + delay });
  }

  private drain(p: WorkerProcess): void {
    if (p.draining) return;
    p.draining = true;
    this.o.onEvent?.({ event: 'worker-drain', pool: p.pool, pid: p.child.pid });
    p.child.kill('SIGTERM');
  }

  /** Resolves when every worker of `pool` (all pools if omitted) that is draining now has exited. */
  async drained(pool?: string): Promise<void> {
    await Promise.all(
      [...this.procs].filter((p) => p.draining && (!pool || p.pool === pool)).map((p) => p.exited),
    );
  }

  signalWorkers(signal: NodeJS.Signals): void {
    for (const p of this.procs) p.child.kill(signal);
  }

  /** Drains every worker and waits for all to exit (running jobs finish first). */
  async close(): Promise<void> {
    this.closing = true;
    for (const p of this.procs) this.drain(p);
    await Promise.all([...this.procs].map((p) => p.exited));
  }
}
