/**
 * The Segment page across a reload, and the Jobs page's downloads, in Debian's Chromium against a local
 * kiosk (web/e2e/kiosk-harness.ts), issue 23 #6:
 * - files added but not submitted are named in the summary (it said "No files yet" beside them);
 * - after a reload the batch is back (its job ids kept in localStorage), its jobs fetched from the kiosk;
 *   a job the kiosk no longer has says so; "Clear finished" forgets them for good;
 * - the Jobs page offers the label TIFF of an image job beside its zip.
 * Screenshots go to test-artifacts/web/.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NUCLEI_VAL } from '../../test/data.js';
import { decodeLabelTiff } from '../src/lib/label-file.js';
import { SAVED_BATCH_KEY } from '../src/lib/saved-batch.js';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { openKioskPage, type KioskPage } from './kiosk-page.js';
import type { Kiosk } from './kiosk-harness.js';

describe.skipIf(skipBrowserTests)('Segment page across a reload, Jobs downloads, in Chromium', () => {
  let kiosk: Kiosk;
  let ui: KioskPage | undefined;
  let page: Page;
  let name: string;

  beforeAll(async () => {
    ui = await openKioskPage(inject('redisUrl'));
    ({ kiosk, page } = ui);
    name = (await readdir(NUCLEI_VAL)).filter((n) => n.endsWith('.image.png')).sort()[0]!;
  }, 120_000);

  afterAll(() => ui?.close());

  const summary = () => page.locator('[data-testid=summary]').textContent();
  const row = () => page.locator(`tbody tr[data-file="${name}"]`);

  it('issue 23 #6: names files that are ready, and shows the batch again after a reload', async () => {
    await page.goto(`${kiosk.url}/#/segment`);
    await expect.poll(summary).toBe('No files yet');
    await page.locator('[data-testid=file-input]').setInputFiles({
      name,
      mimeType: 'image/png',
      buffer: await readFile(join(NUCLEI_VAL, name)),
    });
    await expect.poll(() => row().getAttribute('data-status')).toBe('ready');
    expect(await summary()).toBe('1 file ready, not submitted yet');

    await page.getByRole('button', { name: 'Segment 1 file' }).click();
    await expect
      .poll(() => row().getAttribute('data-status'), { timeout: 120_000, interval: 250 })
      .toBe('done');
    const jobId = (await row().getAttribute('data-job'))!;
    expect(jobId).not.toBe('');
    await expect.poll(() => row().locator('[data-testid=objects]').textContent()).toMatch(/^\d+$/);
    const objects = await row().locator('[data-testid=objects]').textContent();

    await page.reload();
    await expect.poll(() => row().getAttribute('data-status'), { timeout: 15_000 }).toBe('done');
    expect(await row().getAttribute('data-job')).toBe(jobId);
    await expect.poll(() => row().locator('[data-testid=objects]').textContent()).toBe(objects);
    expect(
      await row()
        .getByRole('link', { name: `View ${name}` })
        .count(),
    ).toBe(1);
    expect(await summary()).toBe('1 of 1 done — 100 %');
    await page.screenshot({ path: join(ARTIFACTS, '17-segment-after-reload.png'), fullPage: true });

    // A remembered job the kiosk no longer has (expired) says so on its row instead of waiting forever.
    await page.evaluate(
      ([key, id]) => {
        const saved = JSON.parse(localStorage.getItem(key)!) as unknown[];
        saved.push({ path: 'gone.png', jobId: id, size: 10 });
        localStorage.setItem(key, JSON.stringify(saved));
      },
      [SAVED_BATCH_KEY, 'job-that-expired'] as const,
    );
    await page.reload();
    const gone = page.locator('tbody tr[data-file="gone.png"]');
    await expect.poll(() => gone.getAttribute('data-status'), { timeout: 15_000 }).toBe('failed');
    expect(await gone.locator('[data-testid=reason]').textContent()).toMatch(/no longer on the kiosk/);
    await expect.poll(() => row().getAttribute('data-status')).toBe('done');

    // Clearing the finished ones forgets them across reloads too.
    await page.getByRole('button', { name: 'Clear finished' }).click();
    await page.reload();
    await expect.poll(() => page.locator('tbody').textContent()).toMatch(/Nothing yet/);
    expect(await page.evaluate((key) => localStorage.getItem(key), SAVED_BATCH_KEY)).toBeNull();
  }, 180_000);

  it('issue 23 #6: the Jobs page offers the label TIFF of an image job, beside its zip', async () => {
    await page.goto(`${kiosk.url}/#/jobs`);
    const jobRow = page.locator('tbody tr', { hasText: name }).first();
    const tiff = jobRow.getByRole('link', { name: `Download label TIFF of ${name}` });
    await expect.poll(() => tiff.count(), { timeout: 15_000 }).toBe(1);
    expect(await jobRow.getByRole('link', { name: 'Zip' }).count()).toBe(1);
    const href = (await tiff.getAttribute('href'))!;
    expect(href).toMatch(/\/v1\/jobs\/[^/]+\/result\?format=tif$/);
    const [download] = await Promise.all([page.waitForEvent('download'), tiff.click()]);
    const saved = join(ARTIFACTS, 'jobs-page-labels.tif');
    await download.saveAs(saved);
    const labels = decodeLabelTiff(new Uint8Array(await readFile(saved)));
    const direct = decodeLabelTiff(new Uint8Array(await (await fetch(`${kiosk.url}${href}`)).arrayBuffer()));
    expect(labels).toEqual(direct);
    await page.screenshot({ path: join(ARTIFACTS, '18-jobs-tiff.png'), fullPage: true });
  }, 60_000);
});
