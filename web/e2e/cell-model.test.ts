/**
 * The Segment page's "Cells from" chooser of job type whole-cell in Chromium, against a local kiosk
 * (kiosk-harness.ts: its API, workers and grant-checked bucket). With no usable import it offers only the
 * classical second stage and says how to get a model; after a whole-cell foreground package built from
 * scratch (workers/jobtypes/whole-cell/cell-model-package.test-helpers.ts) is imported through
 * POST /v1/models/import, it lists it, and a job submitted with it carries `cellModel` and gives cells and
 * nuclei; the Jobs page and the viewer show it.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeImage } from '../../workers/image/decode.js';
import { syntheticCells, syntheticCellsPng } from '../../workers/image/synthetic-cells.js';
import { cellForegroundPackage } from '../../workers/jobtypes/whole-cell/cell-model-package.test-helpers.js';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { dropFiles } from './drop-files.js';
import type { Kiosk } from './kiosk-harness.js';
import { openKioskPage, type KioskPage } from './kiosk-page.js';

const CLASSICAL = 'membrane channel (classical: Otsu + Propagate)';

/** Imports `zip` as model `name` through the API, waiting out a 202 on its status URL; resolves to its version. */
async function importPackage(url: string, zip: Uint8Array, name: string): Promise<string> {
  type Answer = { status?: string; version?: string; statusUrl?: string; message?: string };
  const form = new FormData();
  form.append('name', name);
  form.append('package', new Blob([new Uint8Array(zip)], { type: 'application/zip' }), `${name}.zip`);
  const res = await fetch(`${url}/v1/models/import`, { method: 'POST', body: form });
  let answer = (await res.json()) as Answer;
  expect([201, 202], answer.message).toContain(res.status);
  const statusUrl = answer.statusUrl;
  while (answer.version === undefined) {
    expect(answer.status, answer.message).not.toBe('failed');
    await new Promise((r) => setTimeout(r, 500));
    answer = (await (await fetch(`${url}${statusUrl}`)).json()) as Answer;
  }
  return answer.version;
}

/** The Segment page, freshly loaded (its models read now), with its job types loaded and `type` chosen. */
async function segmentWith(page: Page, url: string, type: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${url}/#/segment`);
  await expect.poll(() => page.locator('#job-type option').count()).toBeGreaterThan(1);
  await page.locator('#job-type').selectOption(type);
}

describe.skipIf(skipBrowserTests)('whole-cell "Cells from" chooser in Chromium', () => {
  let kiosk: Kiosk;
  let ui: KioskPage | undefined;
  let page: Page;
  beforeAll(async () => {
    ui = await openKioskPage(inject('redisUrl'));
    ({ kiosk, page } = ui);
  }, 120_000);
  afterAll(async () => {
    await ui?.close();
  });

  it('with no usable import: only the classical entry and a line saying how to get a model; hidden for other types', async () => {
    await segmentWith(page, kiosk.url, 'segmentation');
    expect(await page.locator('#cell-model').isVisible()).toBe(false);
    await page.locator('#job-type').selectOption('whole-cell');
    const select = page.getByLabel('Cells from');
    expect(await select.isVisible()).toBe(true);
    expect(await select.locator('option').allTextContents()).toEqual([CLASSICAL]);
    const none = page.locator('[data-testid=cell-model-none]');
    expect(await none.isVisible()).toBe(true);
    expect(await none.textContent()).toMatch(/import a bioimage\.io package .* on the Models page/);
    expect((await select.getAttribute('aria-describedby'))?.split(' ')).toEqual([
      'cell-model-help',
      'cell-model-none',
    ]);
    await page.screenshot({ path: join(ARTIFACTS, 'cell-model-none.png'), fullPage: true });
  }, 60_000);

  it('lists an imported whole-cell model; a job with it carries cellModel and gives cells and nuclei', async () => {
    const version = await importPackage(kiosk.url, cellForegroundPackage(), 'cells-fg');
    await segmentWith(page, kiosk.url, 'whole-cell');
    const select = page.getByLabel('Cells from');
    const entries = await select
      .locator('option')
      .evaluateAll((os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent]));
    expect(entries).toEqual([
      ['', CLASSICAL],
      [
        `cells-fg@${version}`,
        `cells-fg v${version} — foreground probability (foreground watershed), 1 input channel (membrane)`,
      ],
    ]);
    expect(await page.locator('[data-testid=cell-model-none]').isVisible()).toBe(false);
    expect(await select.getAttribute('aria-describedby')).toBe('cell-model-help');
    await select.selectOption(`cells-fg@${version}`);
    expect(await page.locator('#cell-model-help').textContent()).toMatch(
      new RegExp(
        `^cells-fg v${version} — foreground probability .*; the model above still finds the nuclei\\.$`,
      ),
    );
    expect(await page.locator('#channels').inputValue()).toBe('0, 1');
    await page.screenshot({ path: join(ARTIFACTS, 'cell-model-chosen.png'), fullPage: true });

    await dropFiles(page, [
      {
        name: 'tissue.png',
        bytes: syntheticCellsPng(syntheticCells(160, 160, { count: 30, minR: 12, maxR: 16, seed: 5 })),
        type: 'image/png',
      },
    ]);
    const row = page.locator('tr[data-file="tissue.png"]');
    await expect.poll(() => row.getAttribute('data-status')).toBe('ready');
    await page.getByRole('button', { name: 'Segment 1 file' }).click();
    await expect
      .poll(() => row.getAttribute('data-status'), { timeout: 120_000, interval: 250 })
      .toBe('done');

    const id = (await row.getAttribute('data-job'))!;
    const job = (await (await fetch(`${kiosk.url}/v1/jobs/${id}`)).json()) as {
      type: string;
      status: string;
      options: { channels: number[]; cellModel?: string };
      outputs: { name: string; url: string }[];
    };
    expect([job.type, job.status]).toEqual(['whole-cell', 'done']);
    // the API keeps cellModel only when the request carried it (pinned to name@version)
    expect(job.options).toMatchObject({ channels: [0, 1], cellModel: `cells-fg@${version}` });
    expect(job.outputs.map((o) => o.name)).toEqual(['cells', 'nuclei']);
    const labels = await Promise.all(
      job.outputs.map(async (o) => {
        const res = await fetch(new URL(o.url, kiosk.url));
        expect(res.status).toBe(200);
        return decodeImage(new Uint8Array(await res.arrayBuffer()), { name: `${o.name}.tif` });
      }),
    );
    for (const l of labels) {
      expect(l.shape).toEqual([160, 160]);
      expect(new Set(l.data).size).toBeGreaterThan(1); // background and at least one object
    }

    // the Jobs page shows the cell model under the job's model
    await page.goto(`${kiosk.url}/#/jobs`);
    const jobRow = page.locator(`tr[data-job="${id}"]`);
    await expect.poll(() => jobRow.getAttribute('data-status')).toBe('done');
    expect(await jobRow.locator('[data-testid=cell-model]').textContent()).toBe(`cells: cells-fg@${version}`);
    // and so does the viewer, in its key/value list
    await page.goto(`${kiosk.url}/#/viewer/${id}`);
    const cellsFrom = page.locator('dl.kv dt:text-is("Cells from") + dd');
    await expect.poll(() => cellsFrom.textContent(), { timeout: 30_000 }).toBe(`cells-fg@${version}`);
  }, 180_000);
});
