/**
 * The job service as service.bench.ts runs it: the API, CPU worker(s) and inference worker started as
 * processes like `kiosk start`, their CPU time and Redis' command counts, and submitting a set of images as
 * jobs until every one is final.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { KioskClient } from '../api/client.js';
import { freePort } from '../test/redis.js';
import { kioskNodeFlags } from '../workers/autoscaler/drivers/local.js';
import { connectRedis } from '../workers/queues/connection.js';
import { JobRecords } from '../workers/queues/records.js';
import { JobWatcher } from '../workers/queues/watcher.js';
import { waitLine } from './wait-line.js';

/** One input: its name, its bytes, and the file they were read from. */
export type BenchImage = { name: string; bytes: Uint8Array; path: string };

/** How the service's processes are started (service.bench.ts's command-line options). */
export interface ServiceProcessOptions {
  /** CPU worker processes (--cpu-workers). */
  readonly cpuWorkers: number;
  /** Niceness of the CPU worker processes, 0 = as the others (--cpu-nice). */
  readonly cpuNice: number;
  /** Extra node/V8 flags for every process, after kioskNodeFlags (--service-node-args). */
  readonly nodeArgs: readonly string[];
  /** Write V8 CPU profiles of the processes to this folder (--profile). */
  readonly profile?: string;
  /** Write each process's standard output to <dir>/<process>.log (--service-log). */
  readonly log?: string;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
async function procCpuS(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (100/s)
}

/** CPU seconds Redis has used (INFO cpu). */
async function redisCpuS(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user');
}

/** CPU seconds used so far by each part of the service. */
export interface ServiceCpu {
  api: number;
  cpuWorker: number;
  inferenceWorker: number;
  redis: number;
}
export const cpuTotal = (c: ServiceCpu) => c.api + c.cpuWorker + c.inferenceWorker + c.redis;

export interface Service {
  client: KioskClient;
  /** CPU seconds used so far by the API, the workers and Redis. */
  cpuS(): Promise<ServiceCpu>;
  /** Redis INFO commandstats: calls and µs per command so far. */
  redisCommands(): Promise<Map<string, { calls: number; usec: number }>>;
  /** Waits for a job through the job-event channel (cheap; polling the API would load the machine). */
  watcher: JobWatcher;
  stop(): Promise<void>;
}

/** API + CPU worker + inference worker as processes, like `kiosk start`. */
export async function startService(env: NodeJS.ProcessEnv, opts: ServiceProcessOptions): Promise<Service> {
  const port = await freePort();
  const full = { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'warn' };
  const prof = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(opts.profile)}`] : [];
  prof.push(...kioskNodeFlags(), ...opts.nodeArgs);
  const run = (script: string, args: string[] = []) =>
    spawn(process.execPath, [...prof, '--import', import.meta.resolve('tsx'), resolve(script), ...args], {
      env: full,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const logTo = (c: ChildProcess, n: string) => {
    if (!opts.log) return c;
    mkdirSync(opts.log, { recursive: true });
    const f = createWriteStream(join(opts.log, `${n}.log`));
    c.stdout!.on('data', (d: Buffer) => f.write(d));
    return c;
  };
  const api = logTo(run('api/server.ts'), 'api');
  const cpus = Array.from({ length: opts.cpuWorkers }, () => run('workers/main.ts', ['--pool', 'cpu']));
  const gpu = logTo(run('workers/main.ts', ['--pool', 'gpu']), 'gpu');
  cpus.forEach((c, i) => logTo(c, `cpu${i}`));
  for (const c of cpus) if (opts.cpuNice) setPriority(c.pid!, opts.cpuNice);
  const [url] = await Promise.all([
    waitLine(api, /api listening on (\S+)/, 'api'),
    ...cpus.map((cpu) => waitLine(cpu, /worker cpu ready/, 'cpu worker')),
    waitLine(gpu, /worker gpu ready/, 'gpu worker'),
  ]);
  const redis = connectRedis(env.REDIS_URL!);
  const watcher = new JobWatcher(
    new JobRecords(redis, env.KIOSK_PREFIX!, 3600),
    connectRedis(env.REDIS_URL!),
  );
  await watcher.start();
  return {
    client: new KioskClient(url),
    async cpuS() {
      const [a, g, ...c] = await Promise.all([api, gpu, ...cpus].map((p) => procCpuS(p.pid!)));
      const cpuWorker = c.reduce((x, y) => x + y, 0);
      return { api: a!, cpuWorker, inferenceWorker: g!, redis: await redisCpuS(redis) };
    },
    async redisCommands() {
      const out = new Map<string, { calls: number; usec: number }>();
      for (const m of (await redis.info('commandstats')).matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g))
        out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
      return out;
    },
    watcher,
    async stop() {
      await watcher.close();
      redis.disconnect();
      for (const c of [api, gpu, ...cpus]) c.kill('SIGTERM');
      await Promise.all(
        [api, gpu, ...cpus].map((c) =>
          c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)),
        ),
      );
    },
  };
}

/** Submits every image as its own job (at most `inflight` uploads at once) and waits until all are final. */
export async function runJobs(
  svc: Service,
  images: readonly { name: string; bytes: Uint8Array }[],
  inflight: number,
): Promise<{ ms: number; ids: string[] }> {
  // The jobs' final events, heard from before the first submission (a job may finish before its submit
  // call returns): the benchmark's client shares the service's cores, so it waits on the events alone,
  // without reading each job's record (waitForFinal reads it twice).
  const finished = new Set<string>();
  const waiting = new Map<string, () => void>();
  const stop = svc.watcher.listen((ev) => {
    if (ev.status !== 'done' && ev.status !== 'failed') return;
    finished.add(ev.id);
    waiting.get(ev.id)?.();
  });
  const final = (id: string) => (finished.has(id) ? undefined : new Promise<void>((r) => waiting.set(id, r)));
  const t0 = performance.now();
  const ids: string[] = new Array<string>(images.length);
  const finals: (Promise<void> | undefined)[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(inflight, images.length) }, async () => {
        for (let i = next++; i < images.length; i = next++) {
          ids[i] = (await svc.client.submit([images[i]!])).id;
          finals.push(final(ids[i]));
        }
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(finals),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          const left = ids.filter((id) => !finished.has(id));
          reject(new Error(`${left.length} jobs not finished after 30 min (e.g. ${left[0]})`));
        }, 1_800_000);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    stop();
  }
  return { ms: performance.now() - t0, ids };
}
