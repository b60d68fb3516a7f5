/**
 * The Models page in Debian's Chromium against a local kiosk (web/e2e/kiosk-harness.ts), issue 23 #5:
 * each version reads as what a biologist needs (what it segments, input, pixel size, accuracy in words
 * and numbers, training data, version history), not as a dump of card.json's keys; the full card is one
 * click away and is exactly what GET /v1/models gives. Issue 21: the Import form imports a bioimage.io
 * package through the API and the CPU worker (the harness checks every role's bucket calls against its
 * grants: the API may not write models/). Screenshots go to test-artifacts/web/.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  foregroundPackage05,
  type PackageFiles,
  withRdf,
} from '../../workers/bioimageio/testing/third-party.js';
import { packZip } from '../../workers/image/zip.js';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { openKioskPage, type KioskPage } from './kiosk-page.js';
import type { Kiosk } from './kiosk-harness.js';

describe.skipIf(skipBrowserTests)('Models page in Chromium', () => {
  let kiosk: Kiosk;
  let ui: KioskPage | undefined;
  let page: Page;

  beforeAll(async () => {
    ui = await openKioskPage(inject('redisUrl'), { context: { viewport: { width: 1366, height: 900 } } });
    ({ kiosk, page } = ui);
  }, 120_000);

  afterAll(() => ui?.close());

  it('issue 23 #5: shows a summary in words per version, with the full card one click away', async () => {
    const { models } = (await (await fetch(`${kiosk.url}/v1/models`)).json()) as {
      models: { name: string; version: string; card?: Record<string, unknown> }[];
    };
    const m = models.find((x) => x.name === kiosk.model)!;
    const card = m.card!;
    await page.goto(`${kiosk.url}/#/models`);
    const article = page.locator(`article[aria-label="${m.name} version ${m.version}"]`);
    await expect.poll(() => article.count()).toBe(1);
    const field = (name: string) => article.locator(`dd[data-field="${name}"]`).textContent();

    expect(await field('Segments')).toMatch(/nuclei/i);
    expect(await field('Versions')).toMatch(new RegExp(`v${m.version} \\(this card\\)`));
    const input = card.input as { mpp?: number; channels?: number } | undefined;
    if (input?.mpp !== undefined)
      expect(await field('Pixel size')).toContain(
        `Trained at ${Number(input.mpp.toPrecision(3))} µm per pixel`,
      );
    if (input?.channels === 1) expect(await field('Input')).toMatch(/^One channel/);
    const validation = card.validation as { f1_50?: number; recall_50?: number } | undefined;
    const accuracy = (await field('Accuracy'))!;
    if (validation?.f1_50 !== undefined) {
      expect(accuracy).toContain(`F1 @ IoU 0.5: ${validation.f1_50.toFixed(3)}`);
      if (validation.recall_50 !== undefined)
        expect(accuracy).toContain(`it found ${Math.round(validation.recall_50 * 100)} % of the nuclei`);
    } else expect(accuracy).toMatch(/Not measured/);
    if (card.training) expect(await field('Trained on')).toMatch(/\S/);

    // The summary is words, not the card's keys; the keys are in the full card, closed at first.
    const pre = article.locator('[data-testid=card-json]');
    expect(await pre.isVisible()).toBe(false);
    const shown = await article.evaluate((a) => {
      const copy = a.cloneNode(true) as HTMLElement;
      copy.querySelector('details')?.remove();
      return copy.textContent ?? '';
    });
    for (const key of ['targetDiameterPx', 'f1_50', 'typicalNucleusDiameterUm', 'normalization', 'oracle'])
      expect(shown).not.toContain(key);
    await page.screenshot({ path: join(ARTIFACTS, '19a-models-summary.png'), fullPage: true });

    await article.getByText('Full card (card.json)').click();
    await expect.poll(() => pre.isVisible()).toBe(true);
    expect(JSON.parse((await pre.textContent())!)).toEqual(card);
    await page.screenshot({ path: join(ARTIFACTS, '19b-models-full-card.png'), fullPage: true });
  }, 60_000);

  it('issue 21: Import adds a third-party bioimage.io package to the list; a broken one shows the reason', async () => {
    const zip = async (files: PackageFiles, name: string) => {
      const path = join(ARTIFACTS, name);
      await writeFile(path, packZip([...files].map(([n, data]) => ({ name: n, data }))));
      return path;
    };
    const { files } = foregroundPackage05();
    await page.goto(`${kiosk.url}/#/models`);
    const status = page.locator('#import-status');
    expect(await status.getAttribute('role')).toBe('status');
    await page.locator('#import-package').setInputFiles(await zip(files, 'fg-web.zip'));
    await page.locator('#import-name').fill('fg-web');
    await page.getByRole('button', { name: 'Import' }).click();
    await expect
      .poll(() => status.textContent(), { timeout: 60_000 })
      .toBe('Imported fg-web v1: its test passed; labels by foreground-watershed.');
    // the list is refreshed: the new model is there, with its card
    const article = page.locator('article[aria-label="fg-web version 1"]');
    await expect.poll(() => article.count(), { timeout: 10_000 }).toBe(1);
    // its history says where it came from (not 'trained')
    expect(await article.locator('ol.versions li[data-version="1"]').textContent()).toContain(
      'imported from a bioimage.io package (format 0.5',
    );
    await page.screenshot({ path: join(ARTIFACTS, '19c-models-imported.png'), fullPage: true });

    // a package whose test output does not match what its model gives: the API's reason, on the page
    const broken = withRdf(
      files,
      (r) =>
        (r.inputs[0].preprocessing = [
          { id: 'scale_range', kwargs: { axes: ['y', 'x'], min_percentile: 1, max_percentile: 99 } },
        ]),
    );
    await page.locator('#import-package').setInputFiles(await zip(broken, 'fg-broken.zip'));
    await page.getByRole('button', { name: 'Import' }).click();
    await expect
      .poll(() => status.textContent(), { timeout: 60_000 })
      .toMatch(
        /^Not imported: .*output 'prob': \d+ of 4096 values differ from the test output.*\[test-mismatch\]/,
      );
    expect(await page.locator('article[aria-label^="fg-broken"]').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '19d-models-import-refused.png'), fullPage: true });

    // An import that outlasts the API's wait (forced here with ?wait=0) answers 202: the page asks its status
    // URL until it ends, and says the same.
    await page.route('**/v1/models/import', (route) =>
      route.continue({ url: `${route.request().url()}?wait=0` }),
    );
    const polled: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/models/imports/')) polled.push(r.url());
    });
    await page.locator('#import-package').setInputFiles(await zip(files, 'fg-later.zip'));
    await page.locator('#import-name').fill('fg-later');
    await page.getByRole('button', { name: 'Import' }).click();
    await expect
      .poll(() => status.textContent(), { timeout: 60_000 })
      .toBe('Imported fg-later v1: its test passed; labels by foreground-watershed.');
    expect(polled.length).toBeGreaterThan(0);
    await expect.poll(() => page.locator('article[aria-label="fg-later version 1"]').count()).toBe(1);
    await page.unroute('**/v1/models/import');
  }, 120_000);
});
