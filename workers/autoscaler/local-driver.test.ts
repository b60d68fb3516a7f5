/**
 * The autoscaler with the local driver on the private test Redis: real worker processes, started and
 * drained by the driver. The jobs run the TRIVIAL worker (testing/trivial-worker.ts: each job only waits a
 * few ms) so the test takes seconds; the processes, BullMQ and the drain on SIGTERM are real.
 */
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { bullConnection } from '../queues/connection.js';
import { createKioskMetrics } from '../metrics/kiosk-metrics.js';
import type { ScaledPool } from './config.js';
import { kioskWorkerCommand, LocalProcessDriver, type WorkerEvent } from './drivers/local.js';
import { runAutoscaler, type RunningAutoscaler } from './loop.js';

const here = dirname(fileURLToPath(import.meta.url));
const TRIVIAL_WORKER = join(here, 'testing', 'trivial-worker.ts');

function trivialCommand(redisUrl: string, prefix: string, jobMs: number) {
  return (pool: string) => ({
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      TRIVIAL_WORKER,
      '--redis',
      redisUrl,
      '--prefix',
      prefix,
      '--queues',
      pool === 'gpu' ? 'predict' : 'preprocess',
      '--job-ms',
      String(jobMs),
    ],
  });
}

/** Resolves when `pred` holds for a pushed item (checked on each push), rejects after `ms`. */
function waitFor<T>(items: T[], pred: (all: T[]) => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pred(items)) return resolve();
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    const push = items.push.bind(items);
    items.push = (...xs: T[]) => {
      const n = push(...xs);
      if (pred(items)) {
        clearTimeout(timer);
        resolve();
      }
      return n;
    };
  });
}

interface Line {
  event: string;
  pool?: string;
  desired?: number;
  actual?: number;
  current?: number;
  readyWork?: number;
  counts?: Record<string, unknown>;
  reasons?: string[];
  time?: string;
}

describe('autoscaler with the local driver (real Redis, real worker processes, trivial jobs)', () => {
  const redisUrl = inject('redisUrl');
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(jobMs: number) {
    const prefix = `test-${randomUUID()}`;
    const connection = bullConnection(redisUrl);
    const queue = new Queue('predict', { connection, prefix });
    const events = new QueueEvents('predict', { connection, prefix });
    await events.waitUntilReady();
    const workerEvents: WorkerEvent[] = [];
    const output: string[] = [];
    const driver = new LocalProcessDriver({
      command: trivialCommand(redisUrl, prefix, jobMs),
      onEvent: (e) => workerEvents.push(e),
      onOutput: (_pool, pid, line) => output.push(`${pid}: ${line}`),
    });
    cleanups.push(async () => {
      await driver.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    });
    return { prefix, queue, events, driver, workerEvents, output };
  }

  it('50 jobs with at most 2 inference workers: 0 → 2 workers → all done → 0 after the grace period', async () => {
    const { prefix, queue, events, driver, workerEvents } = await setup(60);
    const lines: Line[] = [];
    const pool: ScaledPool = {
      pool: 'gpu',
      target: 'kiosk-gpu-worker',
      queues: ['predict'],
      min: 0,
      max: 2,
      jobsPerReplica: 4,
      idleGraceMs: 1500,
      scaleDownStabilizationMs: 1000,
    };
    const metrics = createKioskMetrics();
    let scaler: RunningAutoscaler | undefined;
    cleanups.push(async () => scaler?.stop());
    scaler = runAutoscaler({
      redisUrl,
      prefix,
      pools: [pool],
      driver,
      intervalMs: 200,
      metrics,
      closeDriverOnStop: false,
      log: (l) => lines.push(JSON.parse(l) as Line),
    });
    // Idle at first: no work, no workers.
    await waitFor(lines, (ls) => ls.some((l) => l.event === 'scale-decision'), 10_000, 'a first decision');
    expect(lines[0]).toMatchObject({ event: 'scale-decision', pool: 'gpu', desired: 0, actual: 0 });
    expect(await driver.actual('gpu')).toBe(0);

    const completed = new Set<string>();
    const allDone = new Promise<void>((resolve) => {
      events.on('completed', ({ jobId }) => {
        completed.add(jobId);
        if (completed.size === 50) resolve();
      });
    });
    await queue.addBulk(
      Array.from({ length: 50 }, (_, i) => ({ name: 'predict', data: { i }, opts: { jobId: `job-${i}` } })),
    );
    await Promise.race([
      allDone,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`only ${completed.size}/50 jobs completed in 60 s`)), 60_000),
      ),
    ]);

    // Back to zero once the grace period has passed; every worker exits (drained, not killed).
    await waitFor(
      lines,
      (ls) => {
        const last = ls.at(-1);
        return (
          last?.event === 'scale-decision' &&
          last.desired === 0 &&
          last.actual === 0 &&
          ls.some((l) => l.desired === 2)
        );
      },
      20_000,
      'the pool back at 0 workers',
    );
    await scaler.stop();
    scaler = undefined;

    const decisions = lines.filter((l) => l.event === 'scale-decision');
    const desired = decisions.map((d) => d.desired!);
    // 0 → 2 → 0, never above the max of 2 (desired or actual).
    expect(desired[0]).toBe(0);
    expect(Math.max(...desired)).toBe(2);
    expect(desired.at(-1)).toBe(0);
    expect(Math.max(...decisions.map((d) => d.actual!))).toBeLessThanOrEqual(2);
    const firstUp = desired.indexOf(2);
    const firstZeroAfter = desired.findIndex((d, i) => i > firstUp && d === 0);
    // Scale to zero waited for the grace period after the last decision that saw work.
    const lastBusy = decisions.slice(0, firstZeroAfter).findLast((d) => (d.readyWork ?? 0) > 0)!;
    expect(Date.parse(decisions[firstZeroAfter]!.time!) - Date.parse(lastBusy.time!)).toBeGreaterThanOrEqual(
      1500,
    );
    // Decisions carry their inputs.
    expect(decisions[firstUp]!.counts!.predict).toMatchObject({ waiting: expect.any(Number) });
    expect(decisions[firstUp]!.reasons!.join(' ')).toMatch(/scale up/);

    // No job lost: 50 completed, none failed, each by one of the two spawned workers.
    const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
    expect(counts).toMatchObject({ completed: 50, failed: 0, waiting: 0, active: 0, delayed: 0 });
    const started = workerEvents.filter((e) => e.event === 'worker-start').map((e) => e.pid);
    expect(started).toHaveLength(2);
    const jobs = await queue.getJobs(['completed'], 0, 100);
    const byPid = new Set(jobs.map((j) => (j.returnvalue as { pid: number }).pid));
    expect([...byPid].every((pid) => started.includes(pid))).toBe(true);
    // Both workers exited through the drain, with code 0.
    const exits = workerEvents.filter((e) => e.event === 'worker-exit');
    expect(exits).toHaveLength(2);
    for (const e of exits) expect(e).toMatchObject({ code: 0, pool: 'gpu' });
    expect(exits.some((e) => e.unexpected)).toBe(false);

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/kiosk_autoscaler_replicas\{pool="gpu",kind="desired"\} 0/);
    expect(text).toMatch(/kiosk_autoscaler_decisions_total\{pool="gpu",action="up"\} [1-9]/);
  }, 120_000);

  it('scaling down drains: a worker asked to stop mid-job finishes that job before it exits', async () => {
    const { queue, events, driver, workerEvents } = await setup(1500);
    await driver.scale('gpu', 1);
    const active = new Promise<void>((resolve) => events.once('active', () => resolve()));
    const done = new Promise<string>((resolve) => events.once('completed', ({ jobId }) => resolve(jobId)));
    await queue.add('predict', {}, { jobId: 'long' });
    await active;
    await driver.scale('gpu', 0);
    expect(await driver.replicas('gpu')).toBe(0);
    expect(await driver.actual('gpu')).toBe(1); // draining, still counted as up
    await driver.drained('gpu');
    expect(await done).toBe('long');
    expect(await queue.getJobCounts('completed', 'failed', 'active', 'waiting')).toMatchObject({
      completed: 1,
      failed: 0,
      active: 0,
      waiting: 0,
    });
    expect(workerEvents.map((e) => e.event)).toEqual(['worker-start', 'worker-drain', 'worker-exit']);
    expect(workerEvents.at(-1)).toMatchObject({ code: 0 });
  }, 60_000);

  it('backs off a worker that crashes right after starting instead of respawning it every decision', async () => {
    const events: WorkerEvent[] = [];
    let onExit: (() => void) | undefined;
    const exited = () => new Promise<void>((resolve) => (onExit = resolve));
    const driver = new LocalProcessDriver({
      command: () => ({ command: process.execPath, args: ['-e', 'process.exit(3)'] }),
      onEvent: (e) => {
        events.push(e);
        if (e.event === 'worker-exit') onExit?.();
      },
      backoff: { minUptimeMs: 10_000, maxBackoffMs: 60_000 },
    });
    cleanups.push(() => driver.close());
    let exit = exited();
    await driver.scale('gpu', 1);
    await exit;
    expect(events.at(-1)).toMatchObject({ event: 'worker-exit', code: 3, unexpected: true });
    await driver.scale('gpu', 1); // within 1 s of the crash: no new process
    expect(events.at(-1)).toMatchObject({ event: 'worker-backoff', pool: 'gpu' });
    expect(await driver.actual('gpu')).toBe(0);
    const retryAt = events.at(-1)!.retryAtMs!;
    await new Promise((r) => setTimeout(r, Math.max(0, retryAt - Date.now()) + 20));
    exit = exited();
    await driver.scale('gpu', 1); // back-off over: starts again, crashes again → next back-off 2 s
    expect(events.filter((e) => e.event === 'worker-start')).toHaveLength(2);
    await exit;
    await driver.scale('gpu', 1);
    const second = events.at(-1)!;
    expect(second.event).toBe('worker-backoff');
    expect(second.retryAtMs! - Date.now()).toBeGreaterThan(1000);
  }, 30_000);

  it('rejects a negative or fractional replica count with the value in the message', async () => {
    const driver = new LocalProcessDriver({ command: () => ({ command: 'true', args: [] }) });
    await expect(driver.scale('gpu', -1)).rejects.toThrow(/integer >= 0; got -1/);
    await expect(driver.scale('gpu', 1.5)).rejects.toThrow(/got 1.5/);
  });
});

describe('kioskWorkerCommand', () => {
  it('runs workers with single-threaded GC on 2 cores or fewer, and node accepts the flag', async () => {
    const small = kioskWorkerCommand('cpu', 2);
    expect(small.args[0]).toBe('--single-threaded-gc');
    expect(small.args.slice(-2)).toEqual(['--pool', 'cpu']);
    expect(kioskWorkerCommand('gpu', 8).args).not.toContain('--single-threaded-gc');
    const { execFileSync } = await import('node:child_process');
    expect(
      execFileSync(process.execPath, ['--single-threaded-gc', '-e', 'process.stdout.write("ok")']).toString(),
    ).toBe('ok');
  });
});
