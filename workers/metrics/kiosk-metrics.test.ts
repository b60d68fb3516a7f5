import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { bullConnection } from '../queues/connection.js';
import {
  createKioskMetrics,
  observeInference,
  recordScaleDecision,
  trackJobStatuses,
  trackQueues,
} from './kiosk-metrics.js';
import { serveMetrics } from './serve.js';
import { instrumentWorker, stageSample } from './worker-metrics.js';

describe('kiosk metrics on a real queue and worker', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('counts stage jobs by outcome with durations, and reads queue depth at scrape time', async () => {
    const connection = bullConnection(inject('redisUrl'));
    const prefix = `test-${randomUUID()}`;
    const queue = new Queue('predict', { connection, prefix });
    const events = new QueueEvents('predict', { connection, prefix });
    await events.waitUntilReady();
    cleanups.push(async () => {
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    });
    const m = createKioskMetrics();
    trackQueues(m, [queue]);
    await queue.addBulk([
      { name: 'predict', data: { ms: 30 } },
      { name: 'predict', data: { ms: 30 } },
      {
        name: 'predict',
        data: { fail: 'retry' },
        opts: { attempts: 2, backoff: { type: 'fixed', delay: 10 } },
      },
      { name: 'predict', data: { fail: 'bad' }, opts: { attempts: 3 } },
    ]);
    expect(await m.registry.getSingleMetricAsString('kiosk_queue_jobs')).toMatch(
      /kiosk_queue_jobs\{queue="predict",state="waiting"\} 4/,
    );
    let ended = 0;
    const allEnded = new Promise<void>((resolve) => {
      const bump = () => ++ended === 4 && resolve();
      events.on('completed', bump);
      events.on('failed', ({ jobId }) => void queue.getJob(jobId).then((j) => j?.finishedOn && bump()));
    });
    const worker = new Worker(
      'predict',
      async (job) => {
        const d = job.data as { ms?: number; fail?: string };
        if (d.fail === 'bad') throw new UnrecoverableError('bad input');
        if (d.fail === 'retry') throw new Error('transient');
        await new Promise((r) => setTimeout(r, d.ms));
      },
      { connection, prefix, concurrency: 1 },
    );
    cleanups.push(() => worker.close());
    instrumentWorker(m, worker);
    await allEnded;
    const text = await m.registry.metrics();
    expect(text).toMatch(/kiosk_stage_jobs_total\{stage="predict",outcome="completed"\} 2/);
    expect(text).toMatch(/kiosk_stage_jobs_total\{stage="predict",outcome="retried"\} 1/);
    expect(text).toMatch(/kiosk_stage_jobs_total\{stage="predict",outcome="failed"\} 2/);
    const sum = /kiosk_stage_duration_seconds_sum\{stage="predict",outcome="completed"\} ([\d.e-]+)/.exec(
      text,
    );
    expect(Number(sum?.[1])).toBeGreaterThanOrEqual(0.05); // two jobs of >= 30 ms
    expect(text).toMatch(/kiosk_queue_jobs\{queue="predict",state="completed"\} 2/);
    expect(text).toMatch(/kiosk_queue_jobs\{queue="predict",state="failed"\} 2/);
  });

  it('serves the registry on GET /metrics and 404s anything else', async () => {
    const m = createKioskMetrics({ defaultLabels: { process: 'test' } });
    trackJobStatuses(m, async () => ({ done: 3, failed: 1 }));
    observeInference(m, 'nuclear', 0.2, 8);
    recordScaleDecision(m, { pool: 'gpu', desired: 2, actual: 1, work: 12, action: 'up' });
    const server = await serveMetrics(m.registry, 0, '127.0.0.1');
    cleanups.push(() => server.close());
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/kiosk_jobs\{status="done",process="test"\} 3/);
    expect(text).toMatch(
      /kiosk_inference_batch_tiles_sum\{(?=[^}]*model="nuclear")(?=[^}]*process="test")[^}]*\} 8\n/,
    );
    expect(text).toMatch(/kiosk_inference_seconds_count\{(?=[^}]*model="nuclear")[^}]*\} 1\n/);
    expect(text).toMatch(/kiosk_autoscaler_replicas\{pool="gpu",kind="desired",process="test"\} 2/);
    expect(text).toMatch(/kiosk_autoscaler_replicas\{pool="gpu",kind="actual",process="test"\} 1/);
    expect(text).toMatch(/kiosk_autoscaler_decisions_total\{pool="gpu",action="up",process="test"\} 1/);
    expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    await expect(serveMetrics(m.registry, 70000)).rejects.toThrow(/0\.\.65535; got 70000/);
  });

  it('a failing source does not fail the scrape; it goes to onError', async () => {
    const errors: unknown[] = [];
    const m = createKioskMetrics({ onError: (e) => errors.push(e) });
    trackQueues(m, [{ name: 'down', getJobCounts: () => Promise.reject(new Error('redis down')) }]);
    trackJobStatuses(m, () => Promise.reject(new Error('records down')));
    await expect(m.registry.metrics()).resolves.toContain('kiosk_queue_jobs');
    expect(errors.map(String)).toEqual(['Error: redis down', 'Error: records down']);
  });

  it('stageSample: completed, failed for good (finishedOn set), retried (not yet finished)', () => {
    expect(stageSample({ name: 'p', processedOn: 1000, finishedOn: 1500 }, false)).toEqual({
      outcome: 'completed',
      seconds: 0.5,
    });
    expect(stageSample({ name: 'p', processedOn: 1000, finishedOn: 3000 }, true)).toEqual({
      outcome: 'failed',
      seconds: 2,
    });
    expect(stageSample({ name: 'p', processedOn: 1000, finishedOn: undefined }, true, 1250)).toEqual({
      outcome: 'retried',
      seconds: 0.25,
    });
    expect(stageSample({ name: 'p', processedOn: undefined, finishedOn: undefined }, true).seconds).toBeNaN();
  });
});
