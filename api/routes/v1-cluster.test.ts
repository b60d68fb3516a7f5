/**
 * GET /v1/autoscaler/decisions and the autoscaler / worker parts of GET /metrics, with the real autoscaler
 * loop (policy + Redis publisher) on the private test Redis, the API's real queues, and a driver that
 * records the replicas it is asked for (no processes: the processes are the local driver's tests).
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DecisionPublisher } from '../../workers/autoscaler/decision-store.js';
import { RecordingDriver } from '../../workers/autoscaler/testing/recording-driver.js';
import { parsePoolSpec, withPipelineUpstream } from '../../workers/autoscaler/config.js';
import { runAutoscaler, type RunningAutoscaler } from '../../workers/autoscaler/loop.js';
import { createKioskMetrics, observeInference, observeStage } from '../../workers/metrics/kiosk-metrics.js';
import { shareMetrics, type SharedMetrics } from '../../workers/metrics/shared.js';
import { startTestService, type TestService } from '../service-harness.test-helpers.js';

interface Report {
  running: boolean;
  driver?: string;
  pools: {
    pool: string;
    desired: number;
    actual: number;
    work: number;
    min: number;
    max: number;
    queues: string[];
  }[];
  decisions: {
    pool: string;
    action: string;
    current: number;
    desired: number;
    readyWork: number;
    counts: Record<string, { waiting?: number }>;
    reasons: string[];
  }[];
  workerEvents: { event: string; pool: string; pid?: number; unexpected?: boolean }[];
}

let svc: TestService | undefined;
let scaler: RunningAutoscaler | undefined;
const shared: SharedMetrics[] = [];
afterEach(async () => {
  await scaler?.stop();
  for (const s of shared.splice(0)) await s.stop();
  await svc?.close();
  scaler = undefined;
  svc = undefined;
});

describe('GET /v1/autoscaler/decisions and the cluster metrics', () => {
  it('serves the decisions with their inputs, the replicas per pool, worker events, and the metrics', async () => {
    svc = await startTestService(inject('redisUrl'), { pools: false });
    const { services: s, app } = svc;
    const prefix = s.config.prefix;

    // No autoscaler yet: nothing running, no decisions, no autoscaler samples in /metrics.
    const empty = (await app.inject({ url: '/v1/autoscaler/decisions' })).json() as Report;
    expect(empty).toEqual({ running: false, pools: [], decisions: [], workerEvents: [] });
    expect((await app.inject({ url: '/metrics' })).body).not.toMatch(/^kiosk_autoscaler_replicas\{/m);

    // 5 images waiting in preprocess: the CPU pool gets ceil(5/2) = 3 (max 4), the GPU pool looks ahead: 1.
    await s.queues.preprocess.addBulk(
      Array.from({ length: 5 }, (_, i) => ({ name: 'preprocess', data: { i }, opts: { jobId: `j${i}` } })),
    );
    const timing = { intervalMs: 60_000, idleGraceMs: 120_000, scaleDownStabilizationMs: 60_000 };
    const pools = withPipelineUpstream([
      parsePoolSpec('cpu', 'preprocess,postprocess=local:1..4', timing),
      parsePoolSpec('gpu', 'predict,train=local:0..2', timing),
    ]);
    const driver = new RecordingDriver();
    const publisher = new DecisionPublisher({
      redis: s.redis,
      prefix,
      driver: driver.name,
      intervalMs: 60_000,
      pools,
    });
    scaler = runAutoscaler({
      redisUrl: s.config.redisUrl,
      prefix,
      pools,
      driver,
      intervalMs: 60_000,
      log: () => undefined,
      publisher,
      metrics: createKioskMetrics(),
    });
    await scaler.tick(); // the first tick (started at once) has run before this one
    await publisher.event({
      event: 'worker-exit',
      pool: 'cpu',
      pid: 4242,
      signal: 'SIGKILL',
      unexpected: true,
    });
    expect(driver.asked).toEqual([
      ['cpu', 3],
      ['gpu', 1],
    ]);

    const res = await app.inject({ url: '/v1/autoscaler/decisions' });
    expect(res.statusCode, res.body).toBe(200);
    const r = res.json() as Report;
    expect(r.running).toBe(true);
    expect(r.driver).toBe('recording');
    expect(r.pools.map((p) => [p.pool, p.min, p.max, p.desired, p.actual, p.work])).toEqual([
      ['cpu', 1, 4, 3, 3, 5],
      ['gpu', 0, 2, 1, 1, 5],
    ]);
    expect(r.pools[1]!.queues).toEqual(['predict', 'train']);
    // Listed: the two 'up' decisions of the first tick; the second tick's holds are not (they changed nothing).
    expect(r.decisions.map((d) => [d.pool, d.action, d.current, d.desired])).toEqual([
      ['cpu', 'up', 0, 3],
      ['gpu', 'up', 0, 1],
    ]);
    expect(r.decisions[0]!.counts.preprocess!.waiting).toBe(5);
    expect(r.decisions[1]!.reasons[0]).toMatch(
      /work 5 \(ready 0, upstream 5\) \/ 8 per replica → 1 in \[0, 2\]/,
    );
    expect(r.workerEvents).toEqual([
      expect.objectContaining({ event: 'worker-exit', pool: 'cpu', pid: 4242, unexpected: true }),
    ]);
    const limited = (await app.inject({ url: '/v1/autoscaler/decisions?limit=1' })).json() as Report;
    expect(limited.decisions.map((d) => d.pool)).toEqual(['gpu']); // the newest one

    // Two "workers" share their metrics through Redis; /metrics adds them up with the API's own.
    for (const [stage, seconds] of [
      ['predict', 0.5],
      ['predict', 1.5],
    ] as const) {
      const m = createKioskMetrics();
      observeStage(m, stage, 'completed', seconds);
      observeStage(m, 'preprocess', 'failed', 0.1);
      observeInference(m, 'nuclear', 0.2, 8);
      const sh = shareMetrics({ redis: s.redis, prefix, registry: m.registry });
      shared.push(sh);
      await sh.flush();
    }
    const text = (await app.inject({ url: '/metrics' })).body;
    expect(text).toMatch(/^kiosk_autoscaler_replicas\{pool="cpu",kind="desired"\} 3$/m);
    expect(text).toMatch(/^kiosk_autoscaler_replicas\{pool="gpu",kind="actual"\} 1$/m);
    expect(text).toMatch(/^kiosk_autoscaler_work\{pool="gpu"\} 5$/m);
    expect(text).toMatch(/^kiosk_autoscaler_decisions_total\{pool="cpu",action="up"\} 1$/m);
    expect(text).toMatch(/^kiosk_autoscaler_decisions_total\{pool="cpu",action="hold"\} 1$/m);
    expect(text).toMatch(/^kiosk_queue_jobs\{queue="preprocess",state="waiting"\} 5$/m);
    expect(text).toMatch(/^kiosk_queue_jobs\{queue="train",state="waiting"\} 0$/m);
    expect(text).toMatch(/^kiosk_stage_jobs_total\{stage="predict",outcome="completed"\} 2$/m);
    expect(text).toMatch(/^kiosk_stage_duration_seconds_sum\{stage="predict",outcome="completed"\} 2$/m);
    expect(text).toMatch(/^kiosk_stage_jobs_total\{stage="preprocess",outcome="failed"\} 2$/m);
    expect(text).toMatch(/^kiosk_inference_batch_tiles_sum\{model="nuclear"\} 16$/m);
    expect(text).toMatch(
      /^kiosk_http_requests_total\{method="GET",route="\/v1\/autoscaler\/decisions",status="200"\} 3$/m,
    );
    // Each metric once (a second # TYPE line would make Prometheus reject the scrape).
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
  });

  it('is in the OpenAPI document and refuses a bad limit with the reason', async () => {
    svc = await startTestService(inject('redisUrl'), { pools: false });
    const doc = (await svc.app.inject({ url: '/docs/json' })).json() as {
      paths: Record<string, { get?: { tags?: string[] } }>;
    };
    expect(doc.paths['/v1/autoscaler/decisions']?.get?.tags).toEqual(['cluster']);
    const bad = await svc.app.inject({ url: '/v1/autoscaler/decisions?limit=0' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/limit/);
  });
});
