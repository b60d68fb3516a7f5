import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
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
A worker that dies is replaced at once. The URL is printed when the API and the first workers are ready.
Ctrl-C stops it cleanly: running jobs finish (a second Ctrl-C returns them to the queue), then the
autoscaler stops, then Redis saves and stops. Decisions: GET /v1/autoscaler/decisions, the web Cluster page.

Options:
  --cpu-workers [MIN..]MAX   CPU worker processes (MAX alone: MIN 1)       env KIOSK_CPU_WORKERS
  --gpu-workers [MIN..]MAX   inference worker processes (MAX alone: MIN 1) env KIOSK_GPU_WORKERS

Environment:
  PORT            API port (default 8080)          HOST   API address (default 127.0.0.1)
  REDIS_URL       use this Redis; default: start redis-server with AOF persistence under .kiosk/redis
  KIOSK_BUCKET    bucket (default .kiosk/bucket); see api/config.ts for every setting
  KIOSK_SCALE_INTERVAL_S, KIOSK_SCALE_IDLE_GRACE_S, KIOSK_SCALE_DOWN_WINDOW_S
                  autoscaler timing (default here 2 s, 120 s, 60 s)`;

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

/** Starts redis-server (AOF on) in `dir`; resolves once it answers PING. Rejects with the install command if missing. */
export async function startRedis(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', ''],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    },
  );
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
    proc.once('exit', (code) => rej(new Error(`redis-server exited with code ${code} before it was ready`)));
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
        if (Date.now() > deadline) rej(new Error('redis-server did not answer within 10 s'));
        else setTimeout(() => void poll(), 100);
      }
    };
    void poll();
  });
  proc.removeAllListeners('exit');
  return { url, proc };
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

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => c.once('exit', () => r()));

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
    const launchedAt = performance.now();
    const kioskDir = resolve('.kiosk');
    let redis: { url: string; proc?: ChildProcess };
    if (process.env.REDIS_URL) redis = { url: process.env.REDIS_URL };
    else {
      redis = await startRedis(join(kioskDir, 'redis'));
      process.stderr.write(`redis-server on ${redis.url} (data in ${join(kioskDir, 'redis')})\n`);
      writeFileSync(join(kioskDir, REDIS_URL_FILE), `${redis.url}\n`); // for `kiosk token`
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      REDIS_URL: redis.url,
      PORT: port,
      HOST: values.host ?? process.env.HOST ?? '127.0.0.1',
      KIOSK_BUCKET: process.env.KIOSK_BUCKET ?? join(kioskDir, 'bucket'),
      KIOSK_MODEL_CACHE: process.env.KIOSK_MODEL_CACHE ?? join(kioskDir, 'model-cache'),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      KIOSK_SCALE_INTERVAL_S: process.env.KIOSK_SCALE_INTERVAL_S || '2',
      // Workers come and go on no fixed port: they share their metrics through Redis, the API adds them up.
      KIOSK_METRICS_SHARE: 'redis',
      ...scale,
    };
    delete env.KIOSK_METRICS_PORT; // several workers would race for one port
    let api: ChildProcess | undefined;
    let workers: LocalWorkers | undefined;
    const stopAll = async (force: boolean) => {
      if (api && api.exitCode === null) api.kill(force ? 'SIGKILL' : 'SIGTERM');
      if (force) workers?.signal('SIGKILL');
      // Stop = drain: the autoscaler stops deciding, every worker finishes its running jobs and exits.
      await Promise.all([workers?.stop(), api && exited(api)]);
      if (redis.proc && redis.proc.exitCode === null) {
        rmSync(join(kioskDir, REDIS_URL_FILE), { force: true });
        redis.proc.kill('SIGTERM'); // redis-server saves its AOF and exits
        await exited(redis.proc);
      }
    };
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
    const local = workers;
    return new Promise<number>((res) => {
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          process.stderr.write(
            `\n${sig}: stopping — running jobs finish first (Ctrl-C again to return them to the queue now)\n`,
          );
          void stopAll(false).then(() => res(0));
        } else {
          local.signal('SIGINT'); // workers: second signal = return jobs now
          if (apiProc.exitCode === null) apiProc.kill('SIGINT');
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      // Workers are the autoscaler's: one that dies is replaced. The API is not: without it the kiosk stops.
      apiProc.once('exit', (code, signal) => {
        if (signals === 0) {
          process.stderr.write(
            `the API exited unexpectedly (code ${code}, signal ${signal}); stopping the rest\n`,
          );
          signals = 1;
          void stopAll(false).then(() => res(1));
        }
      });
    });
  },
};
