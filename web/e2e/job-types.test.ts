/**
 * The Segment page's job-type chooser in Chromium, against a local kiosk whose registry holds the test-only
 * type workers/jobtypes/testing/tiny (two channels, two outputs): the chooser shows each type's channels, the
 * channel field asks for one index per channel, a wrong count is refused in the page, and a job of the type
 * runs through the API and the workers with the channels given.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../../workers/image/decode.js';
import { encodePng } from '../../workers/image/png.js';
import { randomEllipsoids, renderEllipsoidStack } from '../../workers/image/synthetic-nuclei.js';
import { encodeTiff } from '../../workers/image/tiff-write.js';
import { jobTypeRegistry } from '../../workers/jobtypes/registry.js';
import type { JobTypeDefinition } from '../../workers/jobtypes/types.js';
import { NUCLEI_VAL } from '../../test/data.js';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { openKioskPage, type KioskPage } from './kiosk-page.js';
import { dropFiles } from './drop-files.js';
import type { Kiosk } from './kiosk-harness.js';

const TINY = join(import.meta.dirname, '../../workers/jobtypes/testing/tiny');

describe.skipIf(skipBrowserTests)('job-type chooser in Chromium', () => {
  let kiosk: Kiosk;
  let ui: KioskPage | undefined;
  let page: Page;
  let tiny: JobTypeDefinition;
  beforeAll(async () => {
    tiny = await (await jobTypeRegistry()).loadFolder(TINY);
    ui = await openKioskPage(inject('redisUrl'));
    ({ kiosk, page } = ui);
  }, 120_000);
  afterAll(async () => {
    await ui?.close();
    (await jobTypeRegistry()).unregister(tiny.name);
  });

  it("shows each type's channels and asks for one index per channel", async () => {
    await page.goto(`${kiosk.url}/#/segment`);
    await expect.poll(() => page.locator('#job-type option').count()).toBeGreaterThan(1);
    const options = await page.locator('#job-type option').allTextContents();
    expect(options).toContain('segmentation — nuclear');
    expect(options).toContain('tiny-test — signal + other');
    const help = page.locator('[data-testid=job-type-help]');
    await expect.poll(() => help.textContent()).toMatch(/Channels: nuclear \(a nuclear stain/);
    expect(await page.locator('label[for=channels]').textContent()).toBe('Nuclear channel(s)');

    await page.locator('#job-type').selectOption('tiny-test');
    expect(await help.textContent()).toMatch(
      /Channels: signal \(bright objects\); other \(taken, not used\)\. Gives 2 label images: objects, background\./,
    );
    expect(await page.locator('label[for=channels]').textContent()).toBe('Channels: signal, other');
    expect(await page.locator('#channels').inputValue()).toBe('0, 1');
    await page.screenshot({ path: join(ARTIFACTS, 'job-type-chooser.png'), fullPage: true });

    const names = (await readdir(NUCLEI_VAL)).filter((n) => n.endsWith('.image.png')).sort();
    // a two-channel (RGB) copy of a val image: the grey in red and green
    const grey = decodeImage(await readFile(join(NUCLEI_VAL, names[0]!)), { name: names[0]! });
    const [h, w] = grey.shape as [number, number];
    const rgb = new Uint8Array(h * w * 3);
    for (let i = 0; i < h * w; i++)
      rgb[i * 3] = rgb[i * 3 + 1] = Number(grey.data[i * (grey.data.length / (h * w))]);
    const png = encodePng({ data: rgb, dtype: 'uint8', shape: [h, w, 3], axes: 'YXS' });
    await dropFiles(page, [{ name: names[0]!, bytes: png, type: 'image/png' }]);
    const row = page.locator(`tr[data-file="${names[0]}"]`);
    await expect.poll(() => row.getAttribute('data-status')).toBe('ready');

    await page.locator('#channels').fill('0');
    await page.getByRole('button', { name: 'Segment 1 file' }).click();
    await expect
      .poll(() => page.getByRole('alert').first().textContent())
      .toMatch(/tiny-test takes 2 channels \(signal, other\); give one index for each/);
    expect(await row.getAttribute('data-status')).toBe('ready');

    await page.locator('#channels').fill('0, 1');
    await page.getByRole('button', { name: 'Segment 1 file' }).click();
    await expect
      .poll(() => row.getAttribute('data-status'), { timeout: 120_000, interval: 250 })
      .toBe('done');
    const job = (await (
      await fetch(`${kiosk.url}/v1/jobs/${await row.getAttribute('data-job')}`)
    ).json()) as {
      type: string;
      options: { channels: number[] };
      outputs: { name: string }[];
    };
    expect(job.type).toBe('tiny-test');
    expect(job.options.channels).toEqual([0, 1]);
    expect(job.outputs.map((o) => o.name)).toEqual(['objects', 'background']);
    // the page offers each output's TIFF
    const bg = row.getByRole('link', { name: `Download background of ${names[0]}` });
    expect(await bg.getAttribute('href')).toMatch(/\/files\/.*\.background\.labels\.tif/);
    const res = await fetch(new URL((await bg.getAttribute('href'))!, kiosk.url));
    expect(res.status).toBe(200);
    // so does the Jobs page, in the job's row
    const jobId = (await row.getAttribute('data-job'))!;
    await page.goto(`${kiosk.url}/#/jobs`);
    const jobRow = page.locator(`tr[data-job="${jobId}"]`);
    await expect.poll(() => jobRow.getAttribute('data-status')).toBe('done');
    const jobLinks = await jobRow
      .locator('a[download]')
      .evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('aria-label')]));
    expect(jobLinks.map(([text]) => text)).toEqual(['TIFF', 'TIFF background', 'Zip']);
    expect(jobLinks[1]![1]).toMatch(/^Download background of /);
  }, 180_000);

  it('segmentation offers 3-D for z-stacks (its axes include ZYX); the job gets volume and one ZYX label TIFF', async () => {
    await page.goto(`${kiosk.url}/#/segment`);
    await expect.poll(() => page.locator('#job-type option').count()).toBeGreaterThan(1);
    await page.locator('#job-type').selectOption('tiny-test');
    expect(await page.locator('#volume').isVisible()).toBe(false);
    await page.locator('#job-type').selectOption('segmentation');
    expect(await page.locator('#volume').isVisible()).toBe(true);
    await page.locator('#volume').check();
    await page.locator('#channels').fill('0');
    const [Z, H, W] = [4, 64, 64];
    const { raw } = renderEllipsoidStack(
      randomEllipsoids(5, Z, H, W, { minR: 6, maxR: 9, seed: 2 }),
      Z,
      H,
      W,
      5,
    );
    const tif = encodeTiff({ ...raw, axes: 'ZYX' });
    await dropFiles(page, [{ name: 'stack.tif', bytes: tif, type: 'image/tiff' }]);
    const row = page.locator('tr[data-file="stack.tif"]');
    await expect.poll(() => row.getAttribute('data-status')).toBe('ready');
    await page.getByRole('button', { name: 'Segment 1 file' }).click();
    await expect
      .poll(() => row.getAttribute('data-status'), { timeout: 120_000, interval: 250 })
      .toBe('done');
    const id = await row.getAttribute('data-job');
    const job = (await (await fetch(`${kiosk.url}/v1/jobs/${id}`)).json()) as {
      options: { volume?: boolean };
    };
    expect(job.options.volume).toBe(true);
    const labels = decodeImage(
      new Uint8Array(await (await fetch(`${kiosk.url}/v1/jobs/${id}/result?format=tif`)).arrayBuffer()),
      { name: 'stack.labels.tif' },
    );
    expect([labels.axes, labels.shape]).toEqual(['ZYX', [Z, H, W]]);
  }, 180_000);
});
