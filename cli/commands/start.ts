import { spawn, type ChildProcess } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { localCpuMax } from '../../workers/autoscaler/config.js';
import { kioskNodeFlags } from '../../workers/autoscaler/drivers/local.js';
import { POOL_QUEUES } from '../../workers/queues/names.js';
import { UsageError, type Command } from '../command.js';
import { startLocalWorkers, type LocalWorkers } from './start-workers.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const defaultCpuMax = () => localCpuMax(availableParallelism());

const usage = `Usage: kiosk start [--port N] [--host H] [--cpu-workers [MIN..]MAX] [--gpu-workers [MIN..]MAX]
       kiosk start --role api|cpu-worker|gpu-worker|trainer|autoscaler

With --role, runs just that one process in the foreground (how the cluster's pods start; REDIS_URL and
KIOSK_BUCKET come from the environment). Without it:

Starts the local kiosk on this machine: the API with the web UI as one process, and the autoscaler, which
starts and stops worker processes as the queues fill and empty (docs/autoscaling.md):
  cpu workers        preprocess + postprocess; default 1..min(4, cores/2) (now 1..${defaultCpuMax()})
  inference workers  model inference + training; default 1..1 (0..1: none while idle, one starts for work)
A worker that dies is replaced at once, and so is the kiosk's own redis-server (same port, same data).
The URL is printed when the API and the first workers are ready. One kiosk per folder: a second one started
here refuses, naming the first (.kiosk/kiosk.lock).
Ctrl-C (or SIGTERM, SIGHUP, or SIGTERM to \`npm start\`) stops it, always within bounded time: running jobs
finish for up to KIOSK_STOP_GRACE_S (a second Ctrl-C: at once), then they are returned to the queue for up
to 10 s (a third Ctrl-C kills everything at once), then what is left is killed; then Redis saves and stops.
Decisions: GET /v1/autoscaler/decisions, the web Cluster page.

Options:
  --cpu-workers [MIN..]MAX   CPU worker processes (MAX alone: MIN 1)       env KIOSK_CPU_WORKERS
  --gpu-workers [MIN..]MAX   inference worker processes (MAX alone: MIN 1) env KIOSK_GPU_WORKERS

Environment:
  PORT            API port (default 8080)          HOST   API address (default 127.0.0.1)
  REDIS_URL       use this Redis; default: start redis-server with AOF persistence under .kiosk/redis
  KIOSK_BUCKET    bucket (default .kiosk/bucket); see core/config.ts for every setting
  KIOSK_SCALE_INTERVAL_S, KIOSK_SCALE_IDLE_GRACE_S, KIOSK_SCALE_DOWN_WINDOW_S
                  autoscaler timing (default here 2 s, 120 s, 60 s)
  KIOSK_STOP_GRACE_S  how long a stop waits for running jobs to finish (default 30 s)`;

/** `[MIN..]MAX` of a pool's worker processes; MAX alone keeps `defaultMin`. */
export function parseWorkerRange(
  what: string,
  text: string,
  defaultMin: number,
): { min: number; max: number } {
  const m = /^\s*(?:(\d+)\s*\.\.\s*)?(\d+)\s*$/.exec(text);
  const min = m?.[1] !== undefined ? Number(m[1]) : Math.min(defaultMin, Number(m?.[2] ?? 0));
  const max = Number(m?.[2]);
  if (!m || max < 1 || min > max)
    throw new UsageError(
      `${what} must be MAX or MIN..MAX with 1 <= MAX and MIN <= MAX (e.g. 4 or 0..2); got ${JSON.stringify(text)}`,
    );
  return { min, max };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/**
 * Where a running local kiosk notes the URL of the Redis it started (`kiosk token` finds it there).
 * Removed when the kiosk stops.
 */
export const REDIS_URL_FILE = 'redis.url';

/** How many of redis-server's last log lines are kept, to say why it would not start or why it stopped. */
const REDIS_LOG_LINES = 12;

/** A redis-server this process started: its URL, its process and its last log lines (newest last). */
export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  readonly log: () => string[];
}

/**
 * Starts redis-server (AOF on) in `dir` on `port` (default: a free one); resolves once it answers PING.
 * Rejects with the install command if missing, and with Redis' own last log lines when it exits while
 * starting (a corrupt AOF, a port in use, ...).
 */
export async function startRedis(dir: string, port?: number): Promise<OwnRedis> {
  mkdirSync(dir, { recursive: true });
  port ??= await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', ''],
    // Its log goes to stdout: read (never left to fill the pipe) and its last lines kept.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const lines: string[] = [];
  for (const stream of [proc.stdout!, proc.stderr!]) {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      let at;
      while ((at = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, at).trimEnd();
        buf = buf.slice(at + 1);
        if (line.trim()) lines.push(line);
        if (lines.length > REDIS_LOG_LINES) lines.shift();
      }
    });
  }
  const log = () => [...lines];
  const url = `redis://127.0.0.1:${port}`;
  let settled = false;
  await new Promise<void>((resolveReady, rejectReady) => {
    const res = () => ((settled = true), resolveReady());
    const rej = (e: Error) => ((settled = true), rejectReady(e));
    proc.once('error', (err: NodeJS.ErrnoException) =>
      rej(
        new Error(
          err.code === 'ENOENT'
            ? 'redis-server is not installed. Install it with:\n  sudo apt-get install -y redis-server\nor point REDIS_URL at a Redis you run.'
            : `cannot start redis-server: ${err.message}`,
        ),
      ),
    );
    // 'close', not 'exit': its last lines are read by then.
    proc.once('close', (code, signal) =>
      rej(
        new Error(
          `redis-server (data in ${dir}) exited with ${signal ? `signal ${signal}` : `code ${code}`} before it was ready` +
            (lines.length ? `; its last lines:\n  ${lines.join('\n  ')}` : ' (it printed nothing)'),
        ),
      ),
    );
    const deadline = Date.now() + 10_000;
    const poll = async () => {
      if (settled) return;
      const { Redis } = await import('ioredis');
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await r.connect();
        await r.ping();
        r.disconnect();
        res();
      } catch {
        r.disconnect();
        if (settled) return;
        if (Date.now() > deadline) {
          proc.kill('SIGKILL');
          rej(new Error('redis-server did not answer within 10 s'));
        } else setTimeout(() => void poll(), 100);
      }
    };
    void poll();
  });
  proc.removeAllListeners('close');
  return { url, port, proc, log };
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => c.once('exit', () => r()));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves true when `p` settles within `ms`, false otherwise (`p` keeps running). */
const within = (p: Promise<unknown>, ms: number): Promise<boolean> =>
  new Promise((res) => {
    const timer = setTimeout(() => res(false), ms);
    void p.then(
      () => (clearTimeout(timer), res(true)),
      () => (clearTimeout(timer), res(true)),
    );
  });

/** Whether Redis at `url` answers PING within `ms` (tried again every 100 ms: it may be restarting). */
async function redisAnswers(url: string, ms: number): Promise<boolean> {
  const { Redis } = await import('ioredis');
  const { redisOptions } = await import('../../workers/queues/connection.js');
  const deadline = Date.now() + ms;
  for (;;) {
    const r = new Redis({
      ...redisOptions(url),
      lazyConnect: true,
      connectTimeout: 500,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    r.on('error', () => undefined);
    const ok = await Promise.race([
      r
        .connect()
        .then(() => r.ping())
        .then(
          () => true,
          () => false,
        ),
      sleep(Math.max(100, Math.min(500, deadline - Date.now()))).then(() => false),
    ]);
    r.disconnect();
    if (ok) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

/**
 * A redis-server still running on the data in `dir` (its URL noted in `urlFile` by a kiosk that did not stop:
 * killed with SIGKILL, its children left behind), with its pid; undefined when there is none.
 */
async function leftoverRedis(
  urlFile: string,
  dir: string,
): Promise<{ url: string; pid: string } | undefined> {
  let url: string;
  try {
    url = readFileSync(urlFile, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!(await redisAnswers(url, 300))) return undefined;
  const { Redis } = await import('ioredis');
  const { redisOptions } = await import('../../workers/queues/connection.js');
  const r = new Redis({ ...redisOptions(url), maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    const [, usedDir] = (await r.config('GET', 'dir')) as [string, string];
    if (resolve(usedDir) !== resolve(dir)) return undefined; // another Redis on that port since
    const pid = /process_id:(\d+)/.exec(await r.info('server'))?.[1] ?? '?';
    return { url, pid };
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

/**
 * Keeps the kiosk's own redis-server running: one that exits (kill -9, a crash, the OOM killer) is started
 * again at once on the same port with the same data (its AOF), and says so on stderr; the API, workers and
 * autoscaler reconnect by themselves. `stop()` stops it for good (SIGTERM: it writes its AOF; SIGKILL after
 * `ms` when it does not answer, e.g. stopped with SIGSTOP).
 */
export class RedisSupervisor {
  private current: OwnRedis;
  private stopping = false;
  constructor(
    readonly dir: string,
    first: OwnRedis,
    private readonly write: (line: string) => void,
  ) {
    this.current = first;
    this.watch(first);
  }

  get url(): string {
    return this.current.url;
  }

  get pid(): number | undefined {
    return this.current.proc.pid;
  }

  private watch(r: OwnRedis): void {
    r.proc.once('close', (code, signal) => {
      if (this.stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      const said = r.log();
      this.write(
        `redis-server (pid ${r.proc.pid}) exited with ${how}; restarting it on port ${r.port} (data in ${this.dir})` +
          (code ? `; its last lines:\n  ${said.slice(-5).join('\n  ')}` : ''),
      );
      void this.restart(r.port);
    });
  }

  private async restart(port: number): Promise<void> {
    const t0 = performance.now();
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        const r = await startRedis(this.dir, port);
        if (this.stopping) {
          r.proc.kill('SIGTERM');
          return;
        }
        this.current = r;
        this.watch(r);
        this.write(
          `redis-server is back on ${r.url} (pid ${r.proc.pid}) ${((performance.now() - t0) / 1000).toFixed(1)} s after it exited`,
        );
        return;
      } catch (err) {
        const wait = Math.min(attempt, 10);
        this.write(
          `redis-server did not restart: ${err instanceof Error ? err.message : String(err)}\n` +
            `trying again in ${wait} s`,
        );
        await sleep(wait * 1000);
      }
    }
  }

  /** Stops it for good: SIGTERM (it writes its AOF and exits), SIGKILL after `ms` without an exit. */
  async stop(ms: number): Promise<void> {
    this.stopping = true;
    const proc = this.current.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    proc.kill('SIGCONT'); // one stopped (SIGSTOP) handles its SIGTERM too
    if (await within(exited(proc), ms)) return;
    this.write(`redis-server (pid ${proc.pid}) did not stop within ${ms / 1000} s: killing it`);
    proc.kill('SIGKILL');
    await within(exited(proc), 5000);
  }
}

/** The file that marks a folder's `.kiosk/` as in use by a running kiosk: `{"pid": N, "url": "..."}`. */
export const LOCK_FILE = 'kiosk.lock';

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A pid reused since (after a reboot) by a process that is no kiosk does not hold the lock.
  try {
    return /kiosk/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc here: the live pid is taken at its word
  }
};

/**
 * Takes `.kiosk/kiosk.lock` for this process, or throws naming the live kiosk that holds it: two kiosks in one
 * folder would run two redis-servers appending to the same AOF (corrupting it) and share one bucket. A lock
 * whose process is gone (kill -9, a crash) is taken over. Returns `update(url)` and `release()`.
 */
export function takeKioskLock(kioskDir: string, url: string): { update(url: string): void; release(): void } {
  mkdirSync(kioskDir, { recursive: true });
  const file = join(kioskDir, LOCK_FILE);
  const content = (u: string) => `${JSON.stringify({ pid: process.pid, url: u })}\n`;
  const tmp = `${file}.${process.pid}`;
  for (let tries = 0; ; tries++) {
    writeFileSync(tmp, content(url));
    try {
      linkSync(tmp, file); // atomic: fails when the lock exists, never leaves it half written
      rmSync(tmp, { force: true });
      break;
    } catch (err) {
      rmSync(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 5) throw err;
    }
    let held: { pid?: unknown; url?: unknown } | undefined;
    try {
      held = JSON.parse(readFileSync(file, 'utf8')) as typeof held;
    } catch {
      held = undefined;
    }
    const pid = typeof held?.pid === 'number' ? held.pid : undefined;
    if (pid !== undefined && pid !== process.pid && isAlive(pid))
      throw new Error(
        `another kiosk is already running in this folder: pid ${pid}, ${String(held?.url)} ` +
          `(lock ${file}). Use that one, or stop it first (Ctrl-C in its terminal, or kill ${pid}); ` +
          `two kiosks here would share and corrupt its Redis data (.kiosk/redis).`,
      );
    rmSync(file, { force: true }); // its kiosk is gone: stale
  }
  const ours = () => {
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid === process.pid;
    } catch {
      return false;
    }
  };
  const release = () => {
    if (ours()) rmSync(file, { force: true });
  };
  process.once('exit', release);
  return {
    update(u) {
      if (!ours()) return;
      writeFileSync(tmp, content(u));
      renameSync(tmp, file);
    },
    release,
  };
}

function spawnService(name: string, script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  // --import takes the loader's URL: a bare 'tsx' would resolve from the working directory, not the repo.
  const child = spawn(
    process.execPath,
    [...kioskNodeFlags(), '--import', import.meta.resolve('tsx'), join(repoRoot, script), ...args],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: process.cwd(),
      // Own process group: a terminal's Ctrl-C reaches only this launcher, which stops the children in order.
      detached: true,
    },
  );
  const prefix = (line: string) => `[${name}] ${line}\n`;
  for (const stream of [child.stdout!, child.stderr!]) {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      let at;
      while ((at = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, at);
        buf = buf.slice(at + 1);
        if (line.trim()) process.stderr.write(prefix(line));
      }
    });
  }
  return child;
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`${what} did not start within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      const m = pattern.exec(d.toString());
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        res(m[1] ?? m[0]);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${what} exited with code ${code} while starting (see its messages above)`));
    });
  });
}

/** One role per process in the cluster: the script each pod runs (see constructs/k8s/kiosk-chart.ts). */
const ROLES: Record<string, { script: string; args: string[] }> = {
  api: { script: 'api/server.ts', args: [] },
  'cpu-worker': { script: 'workers/main.ts', args: ['--pool', 'cpu'] },
  'gpu-worker': { script: 'workers/main.ts', args: ['--pool', 'gpu'] },
  trainer: { script: 'workers/training/main.ts', args: [] },
  autoscaler: { script: 'workers/autoscaler/main.ts', args: ['--driver', 'kubernetes'] },
};

/** Runs one role in the foreground, passing SIGTERM/SIGINT on (workers drain), and returns its exit code. */
async function runRole(role: string): Promise<number> {
  const spec = ROLES[role];
  if (!spec) throw new UsageError(`--role must be one of ${Object.keys(ROLES).join(', ')}; got '${role}'`);
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(repoRoot, spec.script), ...spec.args],
    { stdio: 'inherit' },
  );
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  return new Promise((res) => {
    child.once('error', (err) => {
      process.stderr.write(`kiosk start --role ${role}: ${err.message}\n`);
      res(1);
    });
    child.once('exit', (code, signal) => {
      process.off('SIGTERM', forward);
      process.off('SIGINT', forward);
      res(code ?? (signal ? 128 + 15 : 1));
    });
  });
}

export const command: Command = {
  name: 'start',
  summary: 'start the local kiosk (API, web UI and workers on this machine)',
  usage,
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          port: { type: 'string' },
          host: { type: 'string' },
          role: { type: 'string' },
          'cpu-workers': { type: 'string' },
          'gpu-workers': { type: 'string' },
        },
        strict: true,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (values.role !== undefined) return runRole(values.role);
    const port = values.port ?? process.env.PORT ?? '8080';
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535)
      throw new UsageError(`--port must be 0-65535; got '${port}'`);
    const scale: NodeJS.ProcessEnv = {};
    for (const [pool, flag, name] of [
      ['cpu', 'cpu-workers', 'KIOSK_CPU_WORKERS'],
      ['gpu', 'gpu-workers', 'KIOSK_GPU_WORKERS'],
    ] as const) {
      const text = values[flag] ?? process.env[name];
      if (text === undefined || text === '') continue;
      const r = parseWorkerRange(values[flag] !== undefined ? `--${flag}` : name, text, 1);
      scale[`KIOSK_SCALE_${pool.toUpperCase()}`] = `${POOL_QUEUES[pool].join(',')}=local:${r.min}..${r.max}`;
    }
    const graceText = process.env.KIOSK_STOP_GRACE_S || '30';
    const graceS = Number(graceText);
    if (!Number.isFinite(graceS) || graceS < 0 || graceS > 86_400)
      throw new UsageError(`KIOSK_STOP_GRACE_S must be seconds from 0 to 86400; got '${graceText}'`);
    const graceMs = graceS * 1000;
    const returnMs = Math.min(10_000, graceMs);
    const write = (line: string) => void process.stderr.write(`${line}\n`);
    const launchedAt = performance.now();
    const kioskDir = resolve('.kiosk');
    const host = values.host ?? process.env.HOST ?? '127.0.0.1';
    // One kiosk per folder: a second one would run a second redis-server on the same AOF.
    const lock = takeKioskLock(kioskDir, `http://${host}:${port}`);
    let redis: { url: string; supervisor?: RedisSupervisor };
    if (process.env.REDIS_URL) redis = { url: process.env.REDIS_URL };
    else {
      const dir = join(kioskDir, 'redis');
      try {
        const left = await leftoverRedis(join(kioskDir, REDIS_URL_FILE), dir);
        if (left)
          throw new Error(
            `a redis-server left running by an earlier kiosk in this folder (pid ${left.pid}, ${left.url}) still ` +
              `uses its data (${dir}); a second one would corrupt it. Stop it first: kill ${left.pid}`,
          );
        const own = await startRedis(dir);
        redis = { url: own.url, supervisor: new RedisSupervisor(dir, own, write) };
      } catch (err) {
        lock.release();
        throw err;
      }
      write(`redis-server on ${redis.url} (data in ${dir}; restarted if it exits)`);
      writeFileSync(join(kioskDir, REDIS_URL_FILE), `${redis.url}\n`); // for `kiosk token`
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      REDIS_URL: redis.url,
      PORT: port,
      HOST: host,
      KIOSK_BUCKET: process.env.KIOSK_BUCKET ?? join(kioskDir, 'bucket'),
      KIOSK_MODEL_CACHE: process.env.KIOSK_MODEL_CACHE ?? join(kioskDir, 'model-cache'),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      KIOSK_SCALE_INTERVAL_S: process.env.KIOSK_SCALE_INTERVAL_S || '2',
      // Workers come and go on no fixed port: they share their metrics through Redis, the API adds them up.
      KIOSK_METRICS_SHARE: 'redis',
      // The API and the workers stop when this launcher is gone (killed with SIGKILL): workers/parent-watch.ts
      KIOSK_PARENT_PID: String(process.pid),
      ...scale,
    };
    delete env.KIOSK_METRICS_PORT; // several workers would race for one port
    let api: ChildProcess | undefined;
    let workers: LocalWorkers | undefined;
    const apiAlive = () => api !== undefined && api.exitCode === null && api.signalCode === null;
    // A second signal skips the wait of the phase under way.
    let hurry: () => void = () => undefined;
    let hurried = false; // the second signal has sent the workers theirs
    let stopping: Promise<void> | undefined;
    /**
     * Stops everything, always within bounded time: the API and the workers drain (running jobs finish) for
     * up to KIOSK_STOP_GRACE_S; then the workers return their running jobs to the queue (SIGINT) for up to
     * 10 s; then whatever is left is killed (its jobs go back to the queue when BullMQ sees them stalled).
     * When Redis does not answer, jobs can neither finish nor be returned: the workers are killed at once.
     * Redis stops last (SIGKILL when it does not stop within 5 s).
     */
    const stopAll = (force: boolean): Promise<void> =>
      (stopping ??= (async () => {
        if (apiAlive()) api!.kill(force ? 'SIGKILL' : 'SIGTERM');
        if (force) workers?.signal('SIGKILL');
        let done = false;
        void Promise.all([workers?.stop(), api && exited(api)]).then(() => (done = true));
        const phase = async (ms: number) => {
          await Promise.race([
            new Promise<void>((r) => (hurry = r)),
            within(
              (async () => {
                while (!done) await sleep(50);
              })(),
              ms,
            ),
          ]);
          hurry = () => undefined;
          return done;
        };
        const left = () =>
          [
            ...(apiAlive() ? [`the API (pid ${api!.pid})`] : []),
            ...(workers?.livePids().length ? [`workers ${workers.livePids().join(', ')}`] : []),
          ].join(' and ');
        // Without Redis running jobs can neither finish nor go back to the queue: no use waiting for them.
        const answering = force || (await redisAnswers(redis.url, 1500));
        if (!answering) {
          write(
            `Redis (${redis.url}) does not answer: stopping the workers now (their running jobs go back to the ` +
              `queue as stalled once Redis is back)`,
          );
          workers?.signal('SIGKILL');
          if (apiAlive()) api!.kill('SIGKILL');
          await phase(5000);
        } else if (!(await phase(graceMs)) && !hurried) {
          write(
            `${left() || 'the workers'} did not stop within ${graceS} s (running jobs, or Redis not answering): ` +
              `returning running jobs to the queue`,
          );
          workers?.signal('SIGINT'); // workers: a second signal returns their jobs to the queue now
        }
        if (!done && !(await phase(force ? 5000 : returnMs))) {
          write(`still running: ${left()}; killing ${left().includes(' and ') ? 'them' : 'it'}`);
          workers?.signal('SIGKILL');
          if (apiAlive()) api!.kill('SIGKILL');
          await phase(5000);
        }
        if (redis.supervisor) {
          rmSync(join(kioskDir, REDIS_URL_FILE), { force: true });
          await redis.supervisor.stop(5000); // redis-server writes its AOF and exits
        }
        lock.release();
      })());
    try {
      // The UI is bundled here, once, not in the API process (parallel API tests would race on web/dist).
      // Imported here, not at load time: `--role` runs in images without web/ (the GPU image has none).
      await import('../../web/build.js')
        .then(({ ensureWebBuilt }) => ensureWebBuilt())
        .catch((e: unknown) =>
          process.stderr.write(`web UI not rebuilt: ${e instanceof Error ? e.message : String(e)}\n`),
        );
      api = spawnService('api', 'api/server.ts', [], env);
      const apiUp = waitForLine(api, /api listening on (\S+)/, 'the API', 120_000);
      apiUp.catch(() => undefined); // awaited below; a failure must not be unhandled meanwhile
      workers = await startLocalWorkers({ env, repoRoot, cwd: process.cwd() });
      const [url, ready] = await Promise.all([apiUp, workers.ready(120_000)]);
      lock.update(url);
      const secs = ((performance.now() - launchedAt) / 1000).toFixed(1);
      const pools = workers.service.pools
        .map((p) => `${p.pool === 'gpu' ? 'inference' : p.pool} ${p.min}..${p.max}`)
        .join(', ');
      const started = ready
        .map((w) => `${w.pool === 'gpu' ? 'inference' : w.pool} ${w.seconds.toFixed(1)} s`)
        .join(', ');
      process.stdout.write(
        `\ncellkiosk is running at ${url}  (API docs: ${url}/docs; Ctrl-C to stop)\n` +
          `  ready in ${secs} s${started ? ` (worker start-up: ${started})` : ''}; ` +
          `autoscaled workers: ${pools}; decisions: ${url}/v1/autoscaler/decisions\n`,
      );
    } catch (err) {
      await stopAll(true);
      throw err;
    }
    const apiProc = api;
    return new Promise<number>((res) => {
      let signals = 0;
      // Stopped: exit even when a connection to a Redis that is gone would keep this process alive.
      const finish = (code: number) => {
        res(code);
        setTimeout(() => process.exit(code), 1000).unref();
      };
      const onSignal = (sig: NodeJS.Signals | string) => {
        signals++;
        if (signals === 1) {
          write(
            `\n${sig}: stopping — running jobs finish first, for up to ${graceS} s ` +
              `(Ctrl-C again to return them to the queue now)`,
          );
          void stopAll(false).then(() => finish(0));
        } else if (signals === 2) {
          write(`${sig}: returning running jobs to the queue now (Ctrl-C again to kill everything)`);
          if (apiAlive()) apiProc.kill('SIGINT');
          workers?.signal('SIGINT');
          hurried = true;
          hurry();
        } else {
          write(`${sig}: killing everything now`);
          workers?.signal('SIGKILL');
          if (apiAlive()) apiProc.kill('SIGKILL');
          void (redis.supervisor?.stop(2000) ?? Promise.resolve()).then(() => {
            lock.release();
            process.exit(130);
          });
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      process.on('SIGHUP', onSignal);
      // `npm start` passes a SIGTERM to its shell only, which dies and leaves this process behind: when the
      // parent that started it under npm goes away, stop as on SIGTERM.
      const parent = process.ppid;
      if (process.env.npm_command !== undefined && parent > 1) {
        const watch = setInterval(() => {
          if (process.ppid === parent) return;
          clearInterval(watch);
          if (signals === 0) onSignal(`npm (its process ${parent}) went away`);
        }, 250);
        watch.unref();
      }
      // Workers are the autoscaler's: one that dies is replaced. The API is not: without it the kiosk stops.
      apiProc.once('exit', (code, signal) => {
        if (signals === 0) {
          write(`the API exited unexpectedly (code ${code}, signal ${signal}); stopping the rest`);
          signals = 1;
          void stopAll(false).then(() => finish(1));
        }
      });
    });
  },
};
