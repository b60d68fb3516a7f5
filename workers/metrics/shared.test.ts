/** Worker metrics shared through Redis (shared.ts) on the private test Redis. */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectRedis } from '../queues/connection.js';
import { createKioskMetrics, observeStage } from './kiosk-metrics.js';
import { metricsWithShared, readSharedMetrics, shareMetrics, sharedMetricsKey } from './shared.js';

const redis = connectRedis(inject('redisUrl'));
const prefix = `test-${randomUUID()}`;
afterAll(async () => {
  await redis.del(sharedMetricsKey(prefix));
  redis.disconnect();
});

describe('worker metrics shared through Redis', () => {
  it('shares only kiosk_* counters and histograms (not the autoscaler ones), drops stale and broken entries, adds up per label set', async () => {
    const w = createKioskMetrics({ defaultMetrics: true });
    observeStage(w, 'predict', 'completed', 0.25);
    w.autoscalerReplicas.set({ pool: 'gpu', kind: 'desired' }, 3); // a gauge: not shared
    const sh = shareMetrics({ redis, prefix, registry: w.registry, id: 'w1', intervalMs: 60_000 });
    await sh.flush();
    await redis.hset(
      sharedMetricsKey(prefix),
      'old',
      JSON.stringify({ at: Date.now() - 7_200_000, metrics: [] }),
    );
    await redis.hset(sharedMetricsKey(prefix), 'broken', '{');
    const shared = await readSharedMetrics(redis, prefix);
    expect(shared).toHaveLength(1);
    expect(shared[0]!.map((m) => m.name).sort()).toEqual([
      'kiosk_inference_batch_tiles',
      'kiosk_inference_seconds',
      'kiosk_stage_duration_seconds',
      'kiosk_stage_jobs_total',
    ]);
    expect(Object.keys(await redis.hgetall(sharedMetricsKey(prefix)))).toEqual(['w1']); // stale and broken deleted

    const own = createKioskMetrics();
    observeStage(own, 'predict', 'completed', 0.5);
    expect(await metricsWithShared(own.registry, [])).toBe(await own.registry.metrics());
    const text = await metricsWithShared(own.registry, [...shared, ...shared]); // two identical workers
    expect(text).toMatch(/^kiosk_stage_jobs_total\{stage="predict",outcome="completed"\} 3$/m);
    expect(text).toMatch(/^kiosk_stage_duration_seconds_sum\{stage="predict",outcome="completed"\} 1$/m);
    expect(text).toMatch(
      /^kiosk_stage_duration_seconds_bucket\{le="0.25",stage="predict",outcome="completed"\} 2$/m,
    );
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
    await sh.stop();
  });
});
