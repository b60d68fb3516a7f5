/**
 * The fault suite's kiosk: a private redis-server with AOF (`appendfsync always`) and the API, CPU workers
 * and inference worker as separate OS processes, as the local kiosk and the cluster's pods run them, under a
 * small supervisor that restarts a process that dies (as Kubernetes or the local autoscaler would).
 * Each process runs in its own process group so `kill9()` takes it down the way a node loss does.
 * Each kiosk process may make only the bucket calls its role's grants allow (KIOSK_GRANT_CHECK=<role>, see
 * workers/storage/grant-check.ts); a call outside them fails and is logged to `grantLog` for the audit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { KioskRole } from '../../constructs/roles.js';
import { formatViolation, type GrantViolation } from '../../workers/storage/grant-check.js';
import { freePort } from '../redis.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const tsx = import.meta.resolve('tsx');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => c.once('exit', () => r()));

/** Last lines a process printed (for failure reports). */
class LogTail {
  private readonly lines: string[] = [];
  private readonly all: string[] = [];
  constructor(private readonly max = 200) {}
  add(name: string, chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      this.lines.push(`[${name}] ${line}`);
      if (this.all.length < 200_000) this.all.push(line);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }
  /** Lines printed so far (by every process) that match `re`. */
  count(re: RegExp): number {
    return this.all.filter((l) => re.test(l)).length;
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface ManagedSpec {
  readonly name: string;
  /** Program and arguments. */
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** A line on stdout that says the process is ready (first group = value returned by start). */
  readonly ready: RegExp;
  /** Restart it when it dies unexpectedly. @default true */
  readonly restart?: boolean;
  /** Delay before a restart. @default 300 */
  readonly restartDelayMs?: number;
}

/** One supervised process. */
export class Managed {
  child?: ChildProcess;
  /** Times the supervisor restarted it after an unexpected exit. */
  restarts = 0;
  private stopping = false;
  private readyPromise?: Promise<string>;

  constructor(
    readonly spec: ManagedSpec,
    private readonly log: LogTail,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and resolves with the ready line's value once it is ready. */
  start(timeoutMs = 120_000): Promise<string> {
    this.stopping = false;
    const child = spawn(this.spec.cmd, [...this.spec.args], {
      cwd: repoRoot,
      env: this.spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: kill9 takes down everything it started
    });
    this.child = child;
    let out = '';
    this.readyPromise = new Promise<string>((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`${this.spec.name} not ready after ${timeoutMs} ms\n${this.log.text()}`)),
        timeoutMs,
      );
      child.stdout!.on('data', (d: Buffer) => {
        const s = d.toString();
        this.log.add(this.spec.name, s);
        out += s;
        const m = this.spec.ready.exec(out);
        if (m) {
          clearTimeout(timer);
          out = '';
          res(m[1] ?? m[0]);
        }
      });
      child.stderr!.on('data', (d: Buffer) => this.log.add(this.spec.name, d.toString()));
      child.once('error', (err) => {
        clearTimeout(timer);
        rej(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.log.add(this.spec.name, `exited (code ${code}, signal ${signal})`);
        rej(new Error(`${this.spec.name} exited (code ${code}, signal ${signal}) before it was ready`));
        if (!this.stopping && this.spec.restart !== false) {
          this.restarts++;
          void sleep(this.spec.restartDelayMs ?? 300).then(() => {
            if (!this.stopping) this.start(timeoutMs).catch(() => undefined);
          });
        }
      });
    });
    return this.readyPromise;
  }

  /** Resolves once the current incarnation is ready. */
  ready(): Promise<string> {
    return this.readyPromise ?? Promise.reject(new Error(`${this.spec.name} was never started`));
  }

  /** SIGKILL to the whole process group, as a lost node or an OOM kill; the supervisor restarts it. */
  kill9(): void {
    if (this.child?.pid && this.child.exitCode === null && this.child.signalCode === null)
      process.kill(-this.child.pid, 'SIGKILL');
  }

  /** SIGTERM (graceful: workers finish their running jobs), then SIGKILL after `graceMs`; no restart. */
  async stop(graceMs = 20_000): Promise<void> {
    this.stopping = true;
    const c = this.child;
    if (!c?.pid || c.exitCode !== null || c.signalCode !== null) return;
    process.kill(-c.pid, 'SIGTERM');
    const t = setTimeout(() => {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, graceMs);
    await exited(c);
    clearTimeout(t);
  }
}

/** A private redis-server with AOF persistence that can be killed and started again on the same port. */
export class AofRedis {
  readonly managed: Managed;
  constructor(
    readonly port: number,
    readonly dir: string,
    log: LogTail,
  ) {
    this.managed = new Managed(
      {
        name: 'redis',
        cmd: process.env.REDIS_SERVER_BIN ?? 'redis-server',
        args: [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--save',
          '',
          // Every acknowledged write is on disk before the reply: a crash loses nothing a client was told.
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
        ],
        env: process.env,
        ready: /Ready to accept connections/,
        restart: false, // the scenario restarts it itself, after a pause
      },
      log,
    );
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  start(): Promise<string> {
    return this.managed.start(20_000);
  }
}

export interface KioskProcessesOptions {
  readonly dir: string;
  /** Environment of every kiosk process (REDIS_URL, PORT and the log level are added). */
  readonly env: Record<string, string>;
  /** Extra environment of the worker processes only. */
  readonly workerEnv?: (name: string) => Record<string, string>;
  readonly cpuWorkers: number;
}

/** The kiosk under test. */
export class KioskProcesses {
  readonly log = new LogTail(400);
  readonly redis: AofRedis;
  api!: Managed;
  cpu: Managed[] = [];
  gpu!: Managed;
  url = '';

  private constructor(
    private readonly o: KioskProcessesOptions,
    redisPort: number,
  ) {
    this.redis = new AofRedis(redisPort, `${o.dir}/redis`, this.log);
  }

  /** Where every kiosk process appends the bucket calls its role's grants refused (JSON lines). */
  get grantLog(): string {
    return `${this.o.dir}/grant-violations.jsonl`;
  }

  /** The bucket calls outside their role's grants so far, one line each (none: []). */
  async grantViolations(): Promise<string[]> {
    const text = await readFile(this.grantLog, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => formatViolation(JSON.parse(l) as GrantViolation));
  }

  static async start(o: KioskProcessesOptions): Promise<KioskProcesses> {
    await mkdir(`${o.dir}/redis`, { recursive: true });
    const k = new KioskProcesses(o, await freePort());
    await k.redis.start();
    const apiPort = await freePort();
    k.api = k.node('api', 'api', 'api/server.ts', [], /api listening on (\S+)/, { PORT: String(apiPort) });
    k.cpu = Array.from({ length: o.cpuWorkers }, (_, i) => k.worker(`cpu-${i + 1}`, 'cpu'));
    k.gpu = k.worker('gpu', 'gpu');
    const [url] = await Promise.all([k.api.start(), ...k.cpu.map((w) => w.start()), k.gpu.start()]);
    k.url = url!;
    return k;
  }

  private node(
    name: string,
    role: KioskRole,
    script: string,
    args: string[],
    ready: RegExp,
    extra: Record<string, string> = {},
  ): Managed {
    return new Managed(
      {
        name,
        cmd: process.execPath,
        args: ['--import', tsx, resolve(repoRoot, script), ...args],
        env: {
          ...process.env,
          ...this.o.env,
          REDIS_URL: this.redis.url,
          LOG_LEVEL: 'warn',
          KIOSK_GRANT_CHECK: role,
          KIOSK_GRANT_CHECK_LOG: this.grantLog,
          ...extra,
        },
        ready,
      },
      this.log,
    );
  }

  /** A worker process (`workers/main.ts --pool`), with `env` on top of the kiosk's. */
  worker(name: string, pool: 'cpu' | 'gpu', env: Record<string, string> = {}): Managed {
    const role = pool === 'cpu' ? 'cpu-worker' : 'gpu-worker'; // the gpu worker also trains
    return this.node(name, role, 'workers/main.ts', ['--pool', pool], new RegExp(`worker ${pool} ready`), {
      ...this.o.workerEnv?.(name),
      ...env,
    });
  }

  /** Stops every process (workers first, then the API, then Redis). */
  async stop(): Promise<void> {
    await Promise.all([...this.cpu, this.gpu].filter(Boolean).map((w) => w.stop(5000)));
    await this.api?.stop(5000);
    await this.redis.managed.stop(5000);
  }
}
