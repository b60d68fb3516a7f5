/**
 * Does the planner predict a real local run? For each configuration (N jobs, at most k workers):
 * 1. calibrate on this machine, apart from the run: a worker's start-up (spawn → ready, median of 3) and the
 *    per-job time of one already-running worker over 40 jobs (BullMQ hop included) — written as a
 *    `cellkiosk-stage-costs/1` file; and the start-up of k workers spawned together (mean ready time, median
 *    of 2 rounds): on a small machine k processes starting at once share its cores, so the planner is given
 *    the start-up measured at the concurrency the run will use (the pool's max);
 * 2. measure: N jobs queued, the autoscaler started with the LOCAL DRIVER (real worker processes, scale
 *    0 → k → 0); makespan = queueing → last job finished;
 * 3. predict: `simulate()` with the calibrated costs, the same policy and interval, no node start-up;
 * and print both makespans and the error. The jobs run the TRIVIAL worker (each job waits JOB_MS: a stand-in
 * for a model call), so the bench measures orchestration and scaling, not the model.
 * Env: JOB_MS (default 100), CONFIGS (default "200x1,400x2,600x3" = N x k).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { startPrivateRedis } from '../test/redis.js';
import { bullConnection } from '../workers/queues/connection.js';
import type { ScaledPool } from '../workers/autoscaler/config.js';
import { LocalProcessDriver } from '../workers/autoscaler/drivers/local.js';
import { runAutoscaler } from '../workers/autoscaler/loop.js';
import { COSTS_FORMAT, loadStageCosts, type StageCosts } from '../workers/planner/costs.js';
import { simulate } from '../workers/planner/simulate.js';

const JOB_MS = Number(process.env.JOB_MS ?? 100);
const CONFIGS = (process.env.CONFIGS ?? '200x1,400x2,600x3')
  .split(',')
  .map((c) => c.split('x').map(Number) as [number, number]);
const TRIVIAL_WORKER = join(
  import.meta.dirname,
  '..',
  'workers',
  'autoscaler',
  'testing',
  'trivial-worker.ts',
);
const INTERVAL_S = 0.5;

const workerArgs = (redisUrl: string, prefix: string) => [
  '--import',
  'tsx',
  TRIVIAL_WORKER,
  '--redis',
  redisUrl,
  '--prefix',
  prefix,
  '--queues',
  'predict',
  '--job-ms',
  String(JOB_MS),
];

async function startWorker(redisUrl: string, prefix: string) {
  const t0 = performance.now();
  const child = spawn(process.execPath, workerArgs(redisUrl, prefix), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => s.includes('"ready"') && resolve());
    child.once('exit', (code) => reject(new Error(`trivial worker exited with ${code} before ready`)));
  });
  return {
    startupS: (performance.now() - t0) / 1000,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Queues n jobs; resolves when all completed, with the seconds from queueing to the last. */
async function runJobs(
  redisUrl: string,
  prefix: string,
  n: number,
  afterAdd: () => void = () => undefined,
): Promise<number> {
  const connection = bullConnection(redisUrl);
  const queue = new Queue('predict', { connection, prefix });
  const events = new QueueEvents('predict', { connection, prefix });
  await events.waitUntilReady();
  let completed = 0;
  const all = new Promise<void>((resolve) =>
    events.on('completed', () => {
      if (++completed === n) resolve();
    }),
  );
  const t0 = Date.now();
  await queue.addBulk(Array.from({ length: n }, (_, i) => ({ name: 'predict', data: { i } })));
  afterAdd();
  await all;
  const jobs = await queue.getJobs(['completed'], 0, n);
  const last = Math.max(...jobs.map((j) => j.finishedOn ?? 0));
  if (process.env.DEBUG_PLANNER) {
    const per = new Map<number, { first: number; n: number; busy: number }>();
    for (const j of jobs) {
      const r = j.returnvalue as { pid: number; startedAt: number; finishedAt: number };
      const p = per.get(r.pid) ?? { first: Infinity, n: 0, busy: 0 };
      per.set(r.pid, {
        first: Math.min(p.first, r.startedAt),
        n: p.n + 1,
        busy: p.busy + r.finishedAt - r.startedAt,
      });
    }
    for (const [pid, p] of per)
      console.log(
        `  pid ${pid}: first job at ${((p.first - t0) / 1000).toFixed(2)} s, ${p.n} jobs, mean ${(p.busy / p.n).toFixed(1)} ms`,
      );
  }
  const counts = await queue.getJobCounts('completed', 'failed');
  if (counts.completed !== n || counts.failed !== 0)
    throw new Error(`lost jobs: ${JSON.stringify(counts)} of ${n}`);
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return (last - t0) / 1000;
}

async function calibrate(redisUrl: string, file: string): Promise<StageCosts> {
  const startups: number[] = [];
  for (let i = 0; i < 3; i++) {
    const w = await startWorker(redisUrl, `bench-cal-${randomUUID()}`);
    startups.push(w.startupS);
    await w.stop();
  }
  startups.sort((a, b) => a - b);
  const prefix = `bench-cal-${randomUUID()}`;
  const w = await startWorker(redisUrl, prefix);
  await runJobs(redisUrl, prefix, 10); // warm-up
  const n = 40;
  const perJob = (await runJobs(redisUrl, prefix, n)) / n;
  await w.stop();
  const costs: StageCosts = {
    format: COSTS_FORMAT,
    measured: {
      at: new Date().toISOString(),
      by: 'bench/planner.bench.ts calibration',
      notes: `trivial worker (job waits ${JOB_MS} ms); start-up = median spawn→ready of 3 (${startups.map((s) => s.toFixed(2)).join(', ')} s); per job = 40 jobs on one running worker`,
    },
    stages: [{ queue: 'predict', pool: 'gpu', secondsPerImage: perJob, secondsPerMegapixel: 0 }],
    workerStartupSeconds: { gpu: startups[1]! },
  };
  await writeFile(file, `${JSON.stringify(costs, null, 2)}\n`);
  return loadStageCosts(file); // the planner reads the file, as `kiosk plan --costs` would
}

/** Mean spawn → ready of k workers started together; median over `rounds`. */
async function concurrentStartup(redisUrl: string, k: number, rounds = 2): Promise<number> {
  const means: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const prefix = `bench-cal-${randomUUID()}`;
    const ws = await Promise.all(Array.from({ length: k }, () => startWorker(redisUrl, prefix)));
    means.push(ws.reduce((s, w) => s + w.startupS, 0) / k);
    await Promise.all(ws.map((w) => w.stop()));
  }
  return means.sort((a, b) => a - b)[Math.floor((means.length - 1) / 2)]!;
}

async function main(): Promise<void> {
  const redis = await startPrivateRedis();
  const dir = await mkdtemp(join(tmpdir(), 'bench-planner-'));
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; job ${JOB_MS} ms; autoscaler interval ${INTERVAL_S} s`,
  );
  try {
    const costs = await calibrate(redis.url, join(dir, 'costs.json'));
    const c = costs.stages[0]!;
    console.log(
      `calibrated: ${(c.secondsPerImage * 1000).toFixed(1)} ms per job, worker start-up ${costs.workerStartupSeconds.gpu!.toFixed(2)} s (${costs.measured.notes})`,
    );
    const startupAt = new Map<number, number>();
    for (const k of new Set(CONFIGS.map(([, k]) => k)))
      startupAt.set(k, k === 1 ? costs.workerStartupSeconds.gpu! : await concurrentStartup(redis.url, k));
    console.log(
      `start-up of k workers spawned together: ${[...startupAt].map(([k, s]) => `k=${k} ${s.toFixed(2)} s`).join(', ')}`,
    );
    for (const [n, k] of CONFIGS) {
      const pool: ScaledPool = {
        pool: 'gpu',
        target: 'local',
        queues: ['predict'],
        min: 0,
        max: k,
        jobsPerReplica: 8,
        idleGraceMs: 2000,
        scaleDownStabilizationMs: 2000,
      };
      const prefix = `bench-run-${randomUUID()}`;
      const driver = new LocalProcessDriver({
        command: () => ({ command: process.execPath, args: workerArgs(redis.url, prefix) }),
        onOutput: () => undefined,
      });
      let scaler: ReturnType<typeof runAutoscaler> | undefined;
      const measured = await runJobs(redis.url, prefix, n, () => {
        scaler = runAutoscaler({
          redisUrl: redis.url,
          prefix,
          pools: [pool],
          driver,
          intervalMs: INTERVAL_S * 1000,
          log: () => undefined,
        });
      });
      await scaler?.stop();
      const predicted = simulate({
        images: n,
        megapixels: 1,
        stages: costs.stages,
        pools: [
          {
            policy: pool,
            nodeStartupSeconds: 0,
            workerStartupSeconds: startupAt.get(k)!,
            nodeReleaseSeconds: 0,
            pricePerNodeHour: 0,
          },
        ],
        intervalSeconds: INTERVAL_S,
      }).makespanSeconds;
      const err = ((predicted - measured) / measured) * 100;
      console.log(
        `N=${n} jobs, k=${k} workers (local driver): measured makespan ${measured.toFixed(2)} s, planner ${predicted.toFixed(2)} s, error ${err >= 0 ? '+' : ''}${err.toFixed(1)} %`,
      );
    }
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
