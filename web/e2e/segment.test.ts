/**
 * The web UI end to end in Debian's Chromium (playwright-core) against a local kiosk on the private test
 * Redis: drop a real val image, wait for done, check the overlay is drawn and the object count equals the
 * API's, download the label TIFF and decode it; drop non-images and see their reasons. Screenshots go to
 * test-artifacts/web/.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { openKioskPage, type KioskPage } from './kiosk-page.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { packZip, unpackZip } from '../../workers/image/zip.js';
import { decodeLabelTiff } from '../src/lib/label-file.js';
import { labelStats } from '../src/lib/label-stats.js';
import type { Kiosk } from './kiosk-harness.js';
import { NUCLEI_VAL } from '../../test/data.js';
import { dropFiles } from './drop-files.js';

const VAL = NUCLEI_VAL;

let kiosk: Kiosk;
let ui: KioskPage | undefined;
let page: Page;

async function valImage(): Promise<string> {
  const names = (await readdir(VAL)).filter((n) => n.endsWith('.image.png')).sort();
  return join(VAL, names[0]!);
}

/**
 * After the next paint, compares the viewer's canvas with the snapshot kept under `window.__snap` (then
 * replaces it): pixels whose RGB changed, and distinct red levels now (an image, not a flat fill).
 */
async function canvasChange(p: Page): Promise<{ changed: number; levels: number }> {
  return p.evaluate(async () => {
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const c = document.querySelector<HTMLCanvasElement>('[data-testid=viewer-canvas]')!;
    const now = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const w = window as unknown as { __snap?: Uint8ClampedArray };
    const before = w.__snap;
    let changed = 0;
    const levels = new Set<number>();
    for (let i = 0; i < now.length; i += 4) {
      levels.add(now[i]!);
      if (before && (before[i] !== now[i] || before[i + 1] !== now[i + 1] || before[i + 2] !== now[i + 2]))
        changed++;
    }
    w.__snap = now;
    return { changed, levels: levels.size };
  });
}

async function setRange(p: Page, testId: string, value: number): Promise<void> {
  await p.locator(`[data-testid=${testId}]`).evaluate((el, v) => {
    (el as HTMLInputElement).value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

describe.skipIf(skipBrowserTests)('web UI in Chromium', () => {
  beforeAll(async () => {
    ui = await openKioskPage(inject('redisUrl'), { context: { acceptDownloads: true } });
    ({ kiosk, page } = ui);
  }, 120_000);

  afterAll(() => ui?.close());

  it('segments a dropped val image, draws its labels and downloads the same labels', async () => {
    const t0 = Date.now();
    const mark = (what: string) => process.stderr.write(`[e2e] ${what} at ${Date.now() - t0} ms\n`);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${kiosk.url}/#/segment`);
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(`${kiosk.model}@`);

    const imagePath = await valImage();
    const name = imagePath.split('/').pop()!;
    await dropFiles(page, [{ name, bytes: await readFile(imagePath), type: 'image/png' }]);
    const row = page.locator(`tr[data-file="${name}"]`);
    await expect.poll(() => row.getAttribute('data-status')).toBe('ready');
    await page.getByRole('button', { name: 'Segment 1 file' }).click();
    await expect
      .poll(() => row.getAttribute('data-status'), { timeout: 120_000, interval: 250 })
      .toBe('done');
    await expect.poll(() => row.locator('[data-testid=objects]').textContent()).not.toBe('');
    await page.screenshot({ path: join(ARTIFACTS, '1-segment-done.png'), fullPage: true });

    mark('done in the list');
    const jobId = (await row.getAttribute('data-job'))!;
    const apiJob = (await (await fetch(`${kiosk.url}/v1/jobs/${jobId}`)).json()) as {
      objectCount: number;
      status: string;
    };
    expect(apiJob.status).toBe('done');
    expect(apiJob.objectCount).toBeGreaterThan(0);
    expect(Number(await row.locator('[data-testid=objects]').textContent())).toBe(apiJob.objectCount);

    await row.getByRole('link', { name: `View ${name}` }).click();
    await page.waitForSelector('[data-testid=viewer-canvas][data-ready="1"]', { timeout: 30_000 });
    expect(Number(await page.locator('[data-testid=object-count]').textContent())).toBe(apiJob.objectCount);
    mark('viewer ready');

    // The overlay is drawn: the canvas differs between label opacity 0 and 100 % on many pixels.
    await setRange(page, 'opacity', 0);
    const bare = await canvasChange(page);
    // The image itself is drawn: a labels-only canvas has 2 red levels (#000 image area, #111 margin), an image many.
    expect(bare.levels).toBeGreaterThan(10);
    await setRange(page, 'opacity', 100);
    expect((await canvasChange(page)).changed).toBeGreaterThan(500);

    // Hovering the canvas names the object under the mouse (or background).
    const box = (await page.locator('[data-testid=viewer-canvas]').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await expect
      .poll(() => page.locator('[data-testid=hover]').textContent())
      .toMatch(/^(Object #\d+ · area \d+ px|x \d+, y \d+ · background)/);
    await page.mouse.move(box.x + 5, box.y + 5);
    await page.screenshot({ path: join(ARTIFACTS, '2-viewer-outlines.png'), fullPage: true });
    await page.locator('#overlay-mode').selectOption('fill');
    await setRange(page, 'opacity', 50);
    await page.screenshot({ path: join(ARTIFACTS, '3-viewer-filled.png'), fullPage: true });

    mark('overlay checked');
    // Download the label TIFF through the page; it decodes to the API's labels and object count.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-testid=download-tif]').click(),
    ]);
    // issue 23 #2: the browser saves it under the project's label-file name (NAME.image.png → NAME.labels.tif).
    expect(download.suggestedFilename()).toBe(name.replace(/\.image\.png$/, '.labels.tif'));
    const saved = join(ARTIFACTS, 'downloaded.labels.tif');
    await download.saveAs(saved);
    const labels = decodeLabelTiff(new Uint8Array(await readFile(saved)));
    const direct = decodeLabelTiff(
      new Uint8Array(await (await fetch(`${kiosk.url}/v1/jobs/${jobId}/result?format=tif`)).arrayBuffer()),
    );
    expect(labels).toEqual(direct);
    expect([labels.height, labels.width]).toEqual([256, 256]);
    expect(labelStats(labels.data).count).toBe(apiJob.objectCount);

    // Hovering an object's pixel names that object and its area (the view fits the image, centred).
    const stats = labelStats(labels.data);
    const [id, area] = [...stats.areas].sort((a, b) => b[1] - a[1])[0]!;
    const at = labels.data.findIndex(
      (v, i) => v === id && labels.data[i + 1] === id && labels.data[i + labels.width] === id,
    );
    const [px, py] = [at % labels.width, Math.floor(at / labels.width)];
    const cbox = (await page.locator('[data-testid=viewer-canvas]').boundingBox())!;
    const scale = Math.min(cbox.width / labels.width, cbox.height / labels.height);
    const ox = cbox.x + (cbox.width - labels.width * scale) / 2;
    const oy = cbox.y + (cbox.height - labels.height * scale) / 2;
    await page.mouse.move(ox + (px + 0.5) * scale, oy + (py + 0.5) * scale);
    await expect
      .poll(() => page.locator('[data-testid=hover]').textContent())
      .toBe(`Object #${id} · area ${area} px`);
    await page.screenshot({ path: join(ARTIFACTS, '3b-viewer-hover.png') });

    // Keyboard: the canvas takes focus; + zooms in and an arrow key pans (the picture changes), 0 fits again.
    await page.mouse.move(0, 0);
    await page.locator('[data-testid=viewer-canvas]').focus();
    await canvasChange(page);
    await page.keyboard.press('+');
    expect((await canvasChange(page)).changed).toBeGreaterThan(1000);
    await page.keyboard.press('ArrowLeft');
    expect((await canvasChange(page)).changed).toBeGreaterThan(1000);
    await page.keyboard.press('0');
    await canvasChange(page);

    // No request left the kiosk (no CDN, no web fonts).
    const origin = new URL(kiosk.url).origin;
    expect(
      requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')),
    ).toEqual([]);
  }, 180_000);

  it('downloads the labels of every finished file as one zip', async () => {
    await page.goto(`${kiosk.url}/#/segment`); // same page load: the list still holds the first image
    const names = (await readdir(VAL))
      .filter((n) => n.endsWith('.image.png'))
      .sort()
      .slice(3, 5);
    await dropFiles(
      page,
      await Promise.all(
        names.map(async (name) => ({ name, bytes: await readFile(join(VAL, name)), type: 'image/png' })),
      ),
    );
    await page.getByRole('button', { name: 'Segment 2 files' }).click();
    const rows = page.locator('tbody tr[data-job]');
    await expect
      .poll(() => rows.evaluateAll((r) => r.map((x) => x.getAttribute('data-status'))), {
        timeout: 120_000,
        interval: 250,
      })
      .toEqual(['done', 'done', 'done']);
    const byFile = new Map(
      await rows.evaluateAll((r) =>
        r.map((x) => [x.getAttribute('data-file')!, x.getAttribute('data-job')!] as [string, string]),
      ),
    );
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-testid=download-all]').click(),
    ]);
    const saved = join(ARTIFACTS, 'all-labels.zip');
    await download.saveAs(saved);
    const entries = unpackZip(new Uint8Array(await readFile(saved)));
    expect(entries.map((e) => e.name).sort()).toEqual(
      [...byFile.keys()].map((f) => f.replace(/\.image\.png$/, '.labels.tif')).sort(),
    );
    for (const e of entries) {
      const id = byFile.get(e.name.replace(/\.labels\.tif$/, '.image.png'))!;
      const direct = new Uint8Array(
        await (await fetch(`${kiosk.url}/v1/jobs/${id}/result?format=tif`)).arrayBuffer(),
      );
      expect(decodeLabelTiff(e.data)).toEqual(decodeLabelTiff(direct));
    }
  }, 180_000);

  it('shows the reason of each file that is not an image', async () => {
    await page.goto(`${kiosk.url}/#/segment`);
    await page.getByRole('button', { name: 'Clear finished' }).click();
    await dropFiles(page, [
      { name: 'notes.txt', bytes: Buffer.from('plate layout: A1-A12 DAPI\n'), type: 'text/plain' },
      { name: 'broken.png', bytes: Buffer.from('this is not a png, just text\n'), type: 'image/png' },
    ]);
    const txt = page.locator('tr[data-file="notes.txt"]');
    await expect.poll(() => txt.getAttribute('data-status')).toBe('rejected');
    expect(await txt.locator('[data-testid=reason]').textContent()).toMatch(/\.txt files are not supported/);

    const png = page.locator('tr[data-file="broken.png"]');
    await page.getByRole('button', { name: 'Segment 1 file' }).click();
    await expect.poll(() => png.getAttribute('data-status'), { timeout: 30_000 }).toBe('failed');
    expect(await png.locator('[data-testid=reason]').textContent()).toMatch(
      /broken\.png is not a TIFF or PNG image/,
    );
    await page.screenshot({ path: join(ARTIFACTS, '4-segment-errors.png'), fullPage: true });
  }, 60_000);

  it('runs a zip as one batch: each image is a child row, a bad entry fails alone by name', async () => {
    await page.goto(`${kiosk.url}/#/segment`);
    await page.getByRole('button', { name: 'Clear finished' }).click();
    const names = (await readdir(VAL))
      .filter((n) => n.endsWith('.image.png'))
      .sort()
      .slice(1, 3);
    const entries = await Promise.all(
      names.map(async (n) => ({ name: `plate1/${n}`, data: new Uint8Array(await readFile(join(VAL, n))) })),
    );
    entries.push({ name: 'plate1/corrupt.tif', data: new TextEncoder().encode('II*\0 not really a tiff') });
    await page.locator('[data-testid=file-input]').setInputFiles({
      name: 'plate1.zip',
      mimeType: 'application/zip',
      buffer: Buffer.from(packZip(entries)),
    });
    const batch = page.locator('tr[data-file="plate1.zip"]');
    await expect.poll(() => batch.getAttribute('data-status')).toBe('ready');
    await page.getByRole('button', { name: 'Segment 1 file' }).click();
    await expect
      .poll(() => batch.getAttribute('data-status'), { timeout: 120_000, interval: 250 })
      .toBe('done');
    for (const n of names)
      await expect
        .poll(() => page.locator(`tr[data-file="plate1.zip/plate1/${n}"]`).getAttribute('data-status'))
        .toBe('done');
    const bad = page.locator('tr[data-file="plate1.zip/plate1/corrupt.tif"]');
    await expect.poll(() => bad.getAttribute('data-status')).toBe('failed');
    expect(await bad.locator('.error').textContent()).toMatch(/\S/);
    await page.screenshot({ path: join(ARTIFACTS, '9-segment-zip-batch.png'), fullPage: true });

    // The batch opens in the Viewer with a picker over its images; the first finished one is shown.
    await batch.getByRole('link', { name: 'View plate1.zip' }).click();
    await page.waitForSelector('[data-testid=viewer-canvas][data-ready="1"]', { timeout: 30_000 });
    expect(await page.locator('#child option').count()).toBe(3);
    const shownCount = Number(await page.locator('[data-testid=object-count]').textContent());
    const childId = await page.locator('#child').inputValue();
    const child = (await (await fetch(`${kiosk.url}/v1/jobs/${childId}`)).json()) as { objectCount: number };
    expect(shownCount).toBe(child.objectCount);
    // The child's own image is shown (taken from the zip this tab submitted), not a labels-only view.
    await setRange(page, 'opacity', 0);
    expect((await canvasChange(page)).levels).toBeGreaterThan(10);
    await setRange(page, 'opacity', 90);
    await page.screenshot({ path: join(ARTIFACTS, '10-viewer-batch-child.png'), fullPage: true });
  }, 180_000);

  it('lists the job in Jobs, shows model cards, queue depths and the Train page; keyboard reaches the pages', async () => {
    await page.goto(`${kiosk.url}/#/jobs`);
    const done = page.locator('tr[data-status="done"]');
    await expect.poll(() => done.count()).toBeGreaterThan(0);
    expect(await done.first().getByRole('link', { name: 'View' }).count()).toBe(1);
    const statuses = () =>
      page
        .locator('tbody tr[data-status]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')));
    await page.locator('#job-status').selectOption('failed');
    await expect.poll(() => page.locator('tbody').textContent()).toBe('No job is failed.');
    await page.locator('#job-status').selectOption('done');
    await expect.poll(statuses).toEqual(['done', 'done', 'done', 'done']); // the zip batch and three single images
    await page.locator('#job-search').fill('no-such-name');
    await expect.poll(() => page.locator('tbody').textContent()).toBe('No job matches the filter.');
    await page.locator('#job-search').fill('plate1');
    await expect.poll(statuses).toEqual(['done']);
    await page.screenshot({ path: join(ARTIFACTS, '5-jobs.png'), fullPage: true });

    await page.goto(`${kiosk.url}/#/models`);
    await expect
      .poll(() => page.locator(`article[aria-label^="${kiosk.model} version"]`).count())
      .toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, '6-models.png'), fullPage: true });

    await page.goto(`${kiosk.url}/#/cluster`);
    await expect
      .poll(() =>
        page.locator('tr[data-queue]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-queue'))),
      )
      .toEqual(expect.arrayContaining(['predict', 'preprocess', 'postprocess']));
    await page.screenshot({ path: join(ARTIFACTS, '7-cluster.png'), fullPage: true });

    // Train: bad data is refused by the training API with every problem named, shown under the form.
    await page.goto(`${kiosk.url}/#/train`);
    await expect.poll(() => page.locator('main').textContent()).toMatch(/Recent trainings/);
    const img = await readFile(await valImage());
    await page.locator('main input[type=file][accept]').setInputFiles([
      { name: 'a.image.png', mimeType: 'image/png', buffer: img },
      { name: 'b.labels.png', mimeType: 'image/png', buffer: img },
    ]);
    await expect.poll(() => page.locator('main').textContent()).toMatch(/no labels for a\.image\.png/);
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect.poll(() => page.locator('[role=alert]').textContent()).toMatch(/problem/);
    await page.screenshot({ path: join(ARTIFACTS, '8-train-bad-data.png'), fullPage: true });

    // A kiosk without the training service: the page says so and disables the form. Its /v1/trainings
    // answers as this API answers any route it lacks (asked here, so the stand-in follows the real answer).
    const noRoute = await fetch(`${kiosk.url}/v1/no-such-route`);
    const noRouteBody = (await noRoute.json()) as { error: string; message: string };
    expect(noRoute.status).toBe(404);
    expect(noRouteBody).toEqual({ error: 'route-not-found', message: 'no route GET /v1/no-such-route' });
    await page.route('**/v1/trainings**', (r) =>
      r.fulfill({
        status: noRoute.status,
        contentType: 'application/json',
        body: JSON.stringify({ error: noRouteBody.error, message: 'no route GET /v1/trainings' }),
      }),
    );
    await page.goto(`${kiosk.url}/#/models`);
    await page.goto(`${kiosk.url}/#/train`);
    await expect.poll(() => page.locator('.notice').textContent()).toMatch(/Training service not available/);
    expect(await page.getByRole('button', { name: 'Start training' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Choose a folder…' }).isDisabled()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, '8-train-not-available.png'), fullPage: true });
    await page.unroute('**/v1/trainings**');

    // Keyboard: the skip link comes first, then the page links, each with a visible focus ring.
    await page.goto('about:blank');
    await page.goto(`${kiosk.url}/#/jobs`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Segment');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).toBe('solid');
    // After a navigation, focus moves to the page, and the next Tab reaches its first control (the drop zone).
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('main');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('drop-zone');
  }, 60_000);

  it('deletes a finished batch from Jobs: its results and its children’s leave the bucket', async () => {
    await page.goto(`${kiosk.url}/#/jobs`);
    await page.locator('#job-search').fill('plate1');
    const row = page.locator('tr[data-status="done"]').first();
    await expect.poll(() => row.getAttribute('data-job')).toMatch(/\S/);
    const id = (await row.getAttribute('data-job'))!;
    const job = (await (await fetch(`${kiosk.url}/v1/jobs/${id}`)).json()) as { children: { id: string }[] };
    const ids = [id, ...job.children.map((c) => c.id)];
    // the API deletes with its own grants (DELETE /v1/jobs/:id: results, leftover scratch, the upload)
    const left = async () =>
      (await kiosk.audit.bucket.list('results/')).filter((k) => ids.some((i) => k.includes(`/${i}/`)));
    expect((await left()).length).toBeGreaterThan(0);
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Delete plate1.zip' }).click();
    await expect.poll(() => page.locator(`tr[data-job="${id}"]`).count()).toBe(0);
    expect(await left()).toEqual([]);
    expect((await fetch(`${kiosk.url}/v1/jobs/${id}`)).status).toBe(404);
    expect(kiosk.audit.lines()).toEqual([]);
  }, 60_000);
});
