/**
 * The web UI against a kiosk with KIOSK_AUTH=tokens, in Debian's Chromium: the first 401 shows the token
 * form; with a lab token the page segments a dropped val image (upload, job, event stream and label
 * download all authenticated) and lists only its lab's jobs. Screenshots go to test-artifacts/web/.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { newKioskPage, openKioskPage, type KioskPage } from './kiosk-page.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NUCLEI_VAL } from '../../test/data.js';
import type { Kiosk } from './kiosk-harness.js';
import { dropFiles } from './drop-files.js';

let kiosk: Kiosk;
let ui: KioskPage | undefined;
let browser: Browser;

describe.skipIf(skipBrowserTests)('web UI with API tokens (KIOSK_AUTH=tokens)', () => {
  beforeAll(async () => {
    ui = await openKioskPage(inject('redisUrl'), { kiosk: { env: { KIOSK_AUTH: 'tokens' } } });
    ({ kiosk, browser } = ui);
  }, 120_000);

  afterAll(() => ui?.close());

  it("asks for a token on 401, then segments with it and shows only its lab's jobs", async () => {
    const { token } = await kiosk.services.tokens.create({ lab: 'lab-a', name: 'e2e' });
    const other = await kiosk.services.tokens.create({ lab: 'lab-b' });
    const names = (await readdir(NUCLEI_VAL)).filter((n) => n.endsWith('.image.png')).sort();
    const [mine, theirs] = [names[0]!, names[1]!];
    // a job of lab B, made through the API
    const fd = new FormData();
    fd.append('file', new Blob([new Uint8Array(await readFile(join(NUCLEI_VAL, theirs)))]), theirs);
    const bHeaders = { authorization: `Bearer ${other.token}` };
    const up = await fetch(`${kiosk.url}/v1/uploads`, { method: 'POST', body: fd, headers: bHeaders });
    const [{ key }] = ((await up.json()) as { uploads: { key: string }[] }).uploads as [{ key: string }];
    const bJob = await fetch(`${kiosk.url}/v1/jobs`, {
      method: 'POST',
      headers: { ...bHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [key] }),
    });
    expect(bJob.status).toBe(201);

    const page = await newKioskPage(browser);
    const statuses: number[] = [];
    page.on('response', (r) => r.url().includes('/v1/') && statuses.push(r.status()));
    await page.goto(`${kiosk.url}/#/segment`);
    await page.waitForSelector('#token-form', { timeout: 30_000 });
    expect(await page.locator('#token-form-title').textContent()).toMatch(/needs an API token/);
    expect(statuses).toContain(401);
    await page.screenshot({ path: join(ARTIFACTS, 'auth-1-token-form.png') });
    await page.fill('#token-input', token);
    await Promise.all([page.waitForEvent('load'), page.click('#token-form button[type=submit]')]);
    statuses.length = 0;
    // the stream connects with ?token= (EventSource sends no headers); no token form any more
    await expect
      .poll(() => page.locator('#stream-state').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('live');
    await expect.poll(() => page.locator('#model option').count()).toBeGreaterThan(0);
    expect(await page.locator('#token-form').count()).toBe(0);

    // segment a dropped image: the upload (XMLHttpRequest) and the job carry the token
    await dropFiles(page, [{ name: mine, bytes: await readFile(join(NUCLEI_VAL, mine)), type: 'image/png' }]);
    const row = page.locator(`tr[data-file="${mine}"]`);
    await expect.poll(() => row.getAttribute('data-status')).toBe('ready');
    await page.getByRole('button', { name: 'Segment 1 file' }).click();
    await expect
      .poll(() => row.getAttribute('data-status'), { timeout: 120_000, interval: 250 })
      .toBe('done');
    const jobId = (await row.getAttribute('data-job'))!;
    // the TIFF link works as a plain link (it carries ?token=): same bytes as the API gives lab A
    const href = (await row
      .getByRole('link', { name: `Download label TIFF of ${mine}` })
      .getAttribute('href'))!;
    expect(href).toMatch(/[?&]token=/);
    const viaLink = await page.evaluate(async (u) => {
      const res = await fetch(u); // no headers: only the URL authenticates
      return { status: res.status, size: (await res.arrayBuffer()).byteLength };
    }, href);
    const direct = await fetch(`${kiosk.url}/v1/jobs/${jobId}/result?format=tif`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(viaLink).toEqual({ status: 200, size: (await direct.arrayBuffer()).byteLength });
    expect(statuses.filter((s) => s === 401)).toEqual([]);

    // the Jobs page lists lab A's job, never lab B's
    await page.goto(`${kiosk.url}/#/jobs`);
    await expect.poll(() => page.locator(`tr[data-job="${jobId}"]`).count(), { timeout: 30_000 }).toBe(1);
    const bId = ((await bJob.json()) as { id: string }).id;
    expect(await page.locator(`tr[data-job="${bId}"]`).count()).toBe(0);
    expect(await page.locator('main').textContent()).not.toContain(theirs);
    await page.screenshot({ path: join(ARTIFACTS, 'auth-2-jobs.png'), fullPage: true });
  });
});
