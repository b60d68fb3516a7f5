/**
 * The Train page end to end in Chromium against a local kiosk with a training worker: upload a zip of one
 * real training pair and one validation pair, train a tiny network from scratch for 2 epochs, watch the
 * epochs arrive live (charts and table), get the new model version, see it on the Models page.
 * Screenshots go to test-artifacts/web/.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { openKioskPage, type KioskPage } from './kiosk-page.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Kiosk } from './kiosk-harness.js';
import { trainingZip } from './training-zip.js';

let kiosk: Kiosk;
let ui: KioskPage | undefined;
let page: Page;

describe.skipIf(skipBrowserTests)('Train page in Chromium', () => {
  beforeAll(async () => {
    ui = await openKioskPage(inject('redisUrl'), { kiosk: { trainer: true } });
    ({ kiosk, page } = ui);
  }, 120_000);

  afterAll(() => ui?.close());

  it('trains a tiny model from scratch with live per-epoch charts and shows the new version', async () => {
    await page.goto(`${kiosk.url}/#/train`);
    await expect.poll(() => page.locator('main').textContent()).toMatch(/No trainings yet/);
    await page
      .locator('main input[type=file][accept]')
      .setInputFiles({ name: 'mini.zip', mimeType: 'application/zip', buffer: await trainingZip() });
    await page.locator('#train-name').fill('e2e-mini');
    await page.locator('#train-base').selectOption('');
    await page.locator('#train-epochs').fill('2');
    await page.locator('#train-steps').fill('1');
    await page.locator('#train-batch').fill('1');
    await page.locator('#train-crop').fill('32');
    await page.getByRole('button', { name: 'Start training' }).click();

    const view = page.locator('[data-training]');
    await expect
      .poll(() => view.getAttribute('data-status'), { timeout: 30_000 })
      .toMatch(/new|waiting|started|training|saving-results|done/);
    // Epoch rows arrive over the event stream while it runs (the page is not reloaded): one, then two.
    const epochs = page.locator('table[aria-label=Epochs] tbody tr');
    await expect.poll(() => epochs.count(), { timeout: 240_000, interval: 250 }).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '11a-train-running.png'), fullPage: true });
    await expect
      .poll(() => view.getAttribute('data-status'), { timeout: 240_000, interval: 500 })
      .toBe('done');
    expect(await epochs.count()).toBe(2);
    // Two epochs draw one line segment per series (M…L…) in the loss chart and the validation chart.
    const paths = await page
      .locator('svg.chart path')
      .evaluateAll((ps) => ps.map((p) => p.getAttribute('d') ?? ''));
    expect(paths.filter((d) => /^M[\d.]+,[\d.]+ L[\d.]+,[\d.]+$/.test(d)).length).toBeGreaterThanOrEqual(2);
    expect(await page.locator('.notice').textContent()).toMatch(/New model: e2e-mini v1/);
    // Issue 23 #4: the header's loss is a table row's (named), and the page says which epoch became the
    // model, as its card records it (training.bestEpoch), marking that row.
    const headline = (await page.locator('[data-testid=train-headline]').textContent())!;
    const [, lossEpoch, loss] = /^2 of 2 epochs done · epoch (\d+) mean loss (\d+\.\d{4})$/.exec(headline)!;
    expect(lossEpoch).toBe('2');
    expect(
      await page.locator('table[aria-label=Epochs] tbody tr[data-epoch="2"] td').nth(1).textContent(),
    ).toBe(loss);
    const { models } = (await (await fetch(`${kiosk.url}/v1/models`)).json()) as {
      models: { name: string; card?: { training?: { bestEpoch?: number } } }[];
    };
    const bestEpoch = models.find((m) => m.name === 'e2e-mini')!.card!.training!.bestEpoch!;
    expect([1, 2]).toContain(bestEpoch);
    await expect
      .poll(() => page.locator('[data-testid=new-model]').textContent())
      .toMatch(
        new RegExp(
          `saved from epoch ${bestEpoch} of 2, the best validation score \\(\\(F1 \\+ DSB\\) / 2 = \\d\\.\\d{3}\\)`,
        ),
      );
    expect(
      await page
        .locator('table[aria-label=Epochs] tbody tr[data-saved]')
        .evaluateAll((rs) => rs.map((r) => r.getAttribute('data-epoch'))),
    ).toEqual([String(bestEpoch)]);
    await page.screenshot({ path: join(ARTIFACTS, '11b-train-done.png'), fullPage: true });

    await page.getByRole('link', { name: 'see its card' }).click();
    await expect.poll(() => page.locator('article[aria-label="e2e-mini version 1"]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, '12-models-with-trained.png'), fullPage: true });
  }, 300_000);
});
