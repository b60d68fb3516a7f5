/**
 * The Train page's time estimate and Cancel button in Chromium against a local kiosk with a real training
 * worker (web/e2e/kiosk-harness.ts), issue 23 #4:
 * - before anything has trained here, the estimate quotes the speed measured on the development machine
 *   (web/src/lib/training.ts FALLBACK_SPEED), says the defaults take hours, and the quick setting fills
 *   the form with a short run;
 * - a running training shows "epoch 1 of N running" (not "epoch 0"), a header loss that is a table row's,
 *   and no negative loss axis;
 * - once an epoch has finished, the estimate uses this kiosk's own measured speed;
 * - Cancel stops the running training: the page and the API say "cancelled by the user", no model.
 * Screenshots go to test-artifacts/web/.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  CANCELLED_REASON,
  DEFAULT_SIZE,
  estimateSeconds,
  FALLBACK_SPEED,
  QUICK_SIZE,
  speedFromTrainings,
  type TrainingView,
} from '../src/lib/training.js';
import { formatDuration } from '../src/lib/units.js';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { openKioskPage, type KioskPage } from './kiosk-page.js';
import type { Kiosk } from './kiosk-harness.js';
import { trainingZip } from './training-zip.js';

let kiosk: Kiosk;
let ui: KioskPage | undefined;
let page: Page;

const estimateEl = () => page.locator('[data-testid=train-estimate]');
const seconds = async () => Number(await estimateEl().getAttribute('data-seconds'));

describe.skipIf(skipBrowserTests)('Train page: time estimate and Cancel in Chromium', () => {
  beforeAll(async () => {
    ui = await openKioskPage(inject('redisUrl'), {
      kiosk: { trainer: true },
      context: { viewport: { width: 1366, height: 900 } },
    });
    ({ kiosk, page } = ui);
  }, 120_000);

  afterAll(() => ui?.close());

  it('issue 23 #4: before starting, estimates the time from measured speed and offers a quick setting', async () => {
    await page.goto(`${kiosk.url}/#/train`);
    await expect.poll(() => page.locator('main').textContent()).toMatch(/No trainings yet/);
    // Nothing has trained on this kiosk: the development machine's measured speed, said so.
    const defaults = estimateSeconds(DEFAULT_SIZE, FALLBACK_SPEED);
    expect(defaults).toBeGreaterThan(2 * 3600);
    await expect.poll(seconds).toBe(Math.round(defaults));
    expect(await estimateEl().getAttribute('data-measured-here')).toBe('false');
    const text = (await estimateEl().textContent())!;
    expect(text).toContain(`Estimated time: about ${formatDuration(defaults)}`);
    expect(text).toContain('10 epochs × 50 steps × 8 crops of 128 px (4,000 crops)');
    expect(text).toContain('no training has finished an epoch on this kiosk yet');
    expect(text).toMatch(/An estimate/);
    expect(text).toMatch(/That is long: the quick setting/);

    // It follows the form: twice the epochs, twice the time; crops of 256 px count four times.
    await page.locator('#train-epochs').fill('20');
    await expect.poll(seconds).toBe(Math.round(2 * defaults));
    await page.locator('#train-crop').fill('256');
    await expect.poll(seconds).toBe(Math.round(8 * defaults));
    await page.locator('#train-crop').fill('');
    expect(await estimateEl().textContent()).toMatch(/give whole numbers/);

    await page.locator('[data-testid=quick-setting]').click();
    expect(
      await Promise.all(
        ['#train-epochs', '#train-steps', '#train-batch', '#train-crop'].map((s) =>
          page.locator(s).inputValue(),
        ),
      ),
    ).toEqual(
      [QUICK_SIZE.epochs, QUICK_SIZE.stepsPerEpoch, QUICK_SIZE.batchSize, QUICK_SIZE.cropSize].map(String),
    );
    const quick = estimateSeconds(QUICK_SIZE, FALLBACK_SPEED);
    await expect.poll(seconds).toBe(Math.round(quick));
    expect(quick).toBeLessThan(defaults / 10);
    expect(await estimateEl().textContent()).not.toMatch(/That is long/);
    await page.screenshot({ path: join(ARTIFACTS, '15-train-estimate.png'), fullPage: true });
  }, 60_000);

  it("issue 23 #4: a running training counts epochs from 1 and can be cancelled from the page; the estimate then uses this kiosk's speed", async () => {
    await page
      .locator('main input[type=file][accept]')
      .setInputFiles({ name: 'mini.zip', mimeType: 'application/zip', buffer: await trainingZip() });
    await page.locator('#train-name').fill('e2e-cancel');
    await page.locator('#train-base').selectOption('');
    await page.locator('#train-epochs').fill('50');
    await page.locator('#train-steps').fill('20');
    await page.locator('#train-batch').fill('1');
    await page.locator('#train-crop').fill('32');
    await page.getByRole('button', { name: 'Start training' }).click();

    const view = page.locator('[data-training]');
    const headline = page.locator('[data-testid=train-headline]');
    // While the first epoch runs: "epoch 1 of 50", never "epoch 0".
    await expect
      .poll(() => headline.textContent(), { timeout: 120_000, interval: 100 })
      .toMatch(/^epoch 1 of 50 running · step \d+ of 1000$/);
    await page.screenshot({ path: join(ARTIFACTS, '16a-train-first-epoch.png'), fullPage: true });
    const rows = page.locator('table[aria-label=Epochs] tbody tr');
    await expect.poll(() => rows.count(), { timeout: 180_000, interval: 250 }).toBeGreaterThanOrEqual(1);
    // The header's loss is the newest table row's, and names it.
    await expect
      .poll(() => headline.textContent(), { timeout: 30_000 })
      .toMatch(/^epoch \d+ of 50 running · step \d+ of 1000 · epoch \d+ mean loss \d+\.\d{4}/);
    const h = (await headline.textContent())!;
    const [, running, lossEpoch, loss] = /^epoch (\d+) of 50.* epoch (\d+) mean loss (\d+\.\d{4})/.exec(h)!;
    expect(Number(running)).toBe(Number(lossEpoch) + 1);
    expect(
      await page
        .locator(`table[aria-label=Epochs] tbody tr[data-epoch="${lossEpoch}"] td`)
        .nth(1)
        .textContent(),
    ).toBe(loss);
    // The loss axis does not go below 0 (its bottom label is the second <text> of the first chart).
    const yMin = await page.locator('svg.chart').first().locator('text').nth(1).textContent();
    expect(Number(yMin)).toBeGreaterThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, '16b-train-running.png'), fullPage: true });

    // Cancel from the page.
    const cancel = page.locator('[data-testid=cancel-training]');
    expect(await cancel.textContent()).toBe('Cancel training');
    await cancel.click();
    await expect.poll(() => view.getAttribute('data-status'), { timeout: 30_000 }).toBe('failed');
    expect(await cancel.count()).toBe(0);
    expect(await view.textContent()).toMatch(/cancelled.*Cancelled by the user: no model was saved\./s);
    expect(await headline.textContent()).toMatch(/^stopped after \d+ of 50 epochs/);
    await page.screenshot({ path: join(ARTIFACTS, '16c-train-cancelled.png'), fullPage: true });

    // The service agrees: failed by the user, no model version written.
    const { trainings } = (await (await fetch(`${kiosk.url}/v1/trainings`)).json()) as {
      trainings: TrainingView[];
    };
    expect(trainings).toHaveLength(1);
    expect(trainings[0]).toMatchObject({ status: 'failed', reason: CANCELLED_REASON });
    expect(trainings[0]!.model).toBeUndefined();
    expect(trainings[0]!.history.length).toBeLessThan(50);
    const models = (await (await fetch(`${kiosk.url}/v1/models`)).json()) as { models: { name: string }[] };
    expect(models.models.map((m) => m.name)).not.toContain('e2e-cancel');

    // Its finished epochs measured this kiosk's speed: the estimate now uses it, for the form's values.
    const size = { epochs: 50, stepsPerEpoch: 20, batchSize: 1, cropSize: 32 };
    const speed = speedFromTrainings(trainings, size)!;
    expect(speed.measuredHere).toBe(true);
    await expect
      .poll(() => estimateEl().getAttribute('data-measured-here'), { timeout: 10_000 })
      .toBe('true');
    await expect.poll(seconds).toBe(Math.round(estimateSeconds(size, speed)));
    expect(await estimateEl().textContent()).toContain('measured on this kiosk: training “e2e-cancel”');
    await page.screenshot({ path: join(ARTIFACTS, '16d-train-estimate-measured.png'), fullPage: true });
  }, 400_000);
});
