/**
 * The Cluster page in Debian's Chromium against a local kiosk (web/e2e/kiosk-harness.ts) with the real
 * autoscaler loop publishing to its Redis: the pools table shows the replicas the autoscaler wants and has,
 * the decisions table shows each scale-up with the queue counts it read and its reasons, and the worker
 * events list shows a worker that died. The driver only records the replicas asked for (the worker
 * processes themselves are tested in cli/commands/local-kiosk.test.ts). Screenshot: test-artifacts/web/.
 */
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Page } from 'playwright-core';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { openKioskPage, type KioskPage } from './kiosk-page.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parsePoolSpec, withPipelineUpstream } from '../../workers/autoscaler/config.js';
import { DecisionPublisher } from '../../workers/autoscaler/decision-store.js';
import { RecordingDriver } from '../../workers/autoscaler/testing/recording-driver.js';
import { runAutoscaler, type RunningAutoscaler } from '../../workers/autoscaler/loop.js';
import { createKioskMetrics } from '../../workers/metrics/kiosk-metrics.js';
import { bullConnection } from '../../workers/queues/connection.js';
import { TRAIN_QUEUE } from '../../workers/training/queue.js';
import type { Kiosk } from './kiosk-harness.js';

describe.skipIf(skipBrowserTests)('Cluster page in Chromium', () => {
  let kiosk: Kiosk;
  let ui: KioskPage | undefined;
  let page: Page;
  let scaler: RunningAutoscaler | undefined;
  let train: Queue | undefined;

  beforeAll(async () => {
    ui = await openKioskPage(inject('redisUrl'), { context: { viewport: { width: 1366, height: 900 } } });
    ({ kiosk, page } = ui);
  }, 120_000);

  afterAll(async () => {
    await scaler?.stop();
    await train?.close();
    await ui?.close();
  });

  it('shows the replicas per pool, the decisions with the queue counts they read, and worker events', async () => {
    const s = kiosk.services;
    await page.goto(`${kiosk.url}/#/cluster`);
    // No autoscaler yet: said so, nothing invented.
    await expect
      .poll(() => page.locator('main').textContent())
      .toMatch(/No autoscaler has reported recently\..*No decisions yet\./s);

    // Three training jobs wait (this kiosk runs no training worker): work for the GPU pool.
    train = new Queue(TRAIN_QUEUE, {
      connection: bullConnection(s.config.redisUrl),
      prefix: s.config.prefix,
    });
    await train.addBulk([1, 2, 3].map((i) => ({ name: 'train', data: { trainingId: `t${i}` } })));
    const timing = { intervalMs: 60_000, idleGraceMs: 120_000, scaleDownStabilizationMs: 60_000 };
    const pools = withPipelineUpstream([
      parsePoolSpec('cpu', 'preprocess,postprocess=local:1..2', timing),
      parsePoolSpec('gpu', 'predict,train=local:0..1', timing),
    ]);
    const driver = new RecordingDriver('local');
    const publisher = new DecisionPublisher({
      redis: s.redis,
      prefix: s.config.prefix,
      driver: driver.name,
      intervalMs: timing.intervalMs,
      pools,
    });
    scaler = runAutoscaler({
      redisUrl: s.config.redisUrl,
      prefix: s.config.prefix,
      pools,
      driver,
      intervalMs: timing.intervalMs,
      log: () => undefined,
      publisher,
      metrics: createKioskMetrics(),
    });
    await scaler.tick();
    await publisher.event({
      event: 'worker-exit',
      pool: 'gpu',
      pid: 4242,
      signal: 'SIGKILL',
      unexpected: true,
    });

    // The page polls every 5 s.
    const gpuRow = page.locator('tr[data-pool="gpu"]').first();
    await expect
      .poll(() => gpuRow.locator('[data-field=desired]').textContent(), { timeout: 15_000 })
      .toBe('1');
    expect(await gpuRow.locator('[data-field=actual]').textContent()).toBe('1');
    expect(await page.locator('tr[data-pool="cpu"] [data-field=desired]').first().textContent()).toBe('1');
    const ups = page.locator('table[aria-label="Recent autoscaler decisions"] tr[data-action="up"]');
    expect(await ups.count()).toBe(2);
    const gpuUp = page.locator('table[aria-label="Recent autoscaler decisions"] tr[data-pool="gpu"]');
    expect(await gpuUp.textContent()).toMatch(/0 → 1/);
    expect(await gpuUp.textContent()).toMatch(/train 3 waiting/);
    expect(await gpuUp.textContent()).toMatch(
      /work 3 \(ready 3, upstream 0\) \/ 8 per replica → 1 in \[0, 1\]/,
    );
    expect(await page.locator('[aria-label="Recent worker events"] li').first().textContent()).toMatch(
      /gpu worker 4242 died \(signal SIGKILL\) — the autoscaler replaces it/,
    );
    // The same numbers through /metrics (the page's "Decisions so far" line reads them).
    expect(await page.locator('main').textContent()).toMatch(/Decisions so far: .*gpu up 1/);
    await page.screenshot({ path: join(ARTIFACTS, '9-cluster-autoscaler.png'), fullPage: true });
  }, 60_000);
});
