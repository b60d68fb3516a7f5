/**
 * The router and the navigation bar in Debian's Chromium against a local kiosk (web/e2e/kiosk-harness.ts):
 * an unknown route says so and links every page (issue 23 #6: it used to show Segment silently), and on
 * every page exactly one navigation item is highlighted, the page's own (issue 23 #6: the Cluster page
 * highlighted two: the item under the pointer got a fill much like the current page's). "Highlighted" is
 * read from the rendered style (the link's computed background), not only from aria-current. Screenshots go to test-artifacts/web/.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ARTIFACTS, skipBrowserTests } from './browser.js';
import { openKioskPage, type KioskPage } from './kiosk-page.js';
import type { Kiosk } from './kiosk-harness.js';

const PAGES = ['segment', 'viewer', 'jobs', 'train', 'models', 'cluster'] as const;

/** Per navigation link: its page, aria-current, and its computed background colour and font weight. */
async function navState(page: Page) {
  return page.locator('header nav a').evaluateAll((links) =>
    links.map((a) => {
      const cs = getComputedStyle(a);
      return {
        page: (a as HTMLAnchorElement).dataset.page ?? '',
        current: a.getAttribute('aria-current'),
        background: cs.backgroundColor,
        weight: cs.fontWeight,
      };
    }),
  );
}

const TRANSPARENT = 'rgba(0, 0, 0, 0)';

describe.skipIf(skipBrowserTests)('navigation in Chromium', () => {
  let kiosk: Kiosk;
  let ui: KioskPage | undefined;
  let page: Page;

  beforeAll(async () => {
    ui = await openKioskPage(inject('redisUrl'));
    ({ kiosk, page } = ui);
  }, 120_000);

  afterAll(() => ui?.close());

  it('issue 23 #6: an unknown route (#/nonsense) shows a not-found message with links to every page, not Segment', async () => {
    await page.goto(`${kiosk.url}/#/nonsense`);
    const main = page.locator('main');
    await expect.poll(() => main.locator('h1').textContent()).toBe('Page not found');
    expect(await main.textContent()).toMatch(/There is no page called “nonsense” \(address #\/nonsense\)/);
    expect(await page.title()).toBe('Page not found · cellkiosk');
    // Nothing of the Segment page, and no navigation item claims to be the page shown.
    expect(await page.locator('[data-testid=drop-zone]').count()).toBe(0);
    const nav = await navState(page);
    expect(nav.filter((l) => l.current !== null)).toEqual([]);
    expect(nav.filter((l) => l.background !== TRANSPARENT)).toEqual([]);
    const links = await main
      .locator('a')
      .evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
    expect(links).toEqual([
      ['Segment', '#/segment'],
      ['Viewer', '#/viewer'],
      ['Jobs', '#/jobs'],
      ['Train', '#/train'],
      ['Models', '#/models'],
      ['Cluster', '#/cluster'],
    ]);
    await page.screenshot({ path: join(ARTIFACTS, '13-not-found.png'), fullPage: true });

    // Its links work; a known page with extra path parts and the bare address still route as before.
    await main.getByRole('link', { name: 'Jobs' }).click();
    await expect.poll(() => page.title()).toBe('Jobs · cellkiosk');
    await page.goto(`${kiosk.url}/#/`);
    await expect.poll(() => page.title()).toBe('Segment · cellkiosk');
    expect(await page.locator('[data-testid=drop-zone]').count()).toBe(1);
    await page.goto(`${kiosk.url}/#/viewer/no-such-job`);
    await expect.poll(() => page.title()).toBe('Viewer · cellkiosk');
    // The skip link is the first Tab stop of a freshly loaded page and focuses <main> without leaving it.
    // (A reload, not a hash change: a hash change already moves focus to <main>, so Tab would go past the link.)
    await page.goto(`${kiosk.url}/#/models`);
    await page.reload();
    await expect.poll(() => page.title()).toBe('Models · cellkiosk');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('skip');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    expect(await page.title()).toBe('Models · cellkiosk');
  }, 60_000);

  it('issue 23 #6: every page highlights exactly one navigation item, its own (Cluster included)', async () => {
    await page.goto(`${kiosk.url}/#/segment`);
    for (const name of PAGES) {
      // Reached the way a user does: clicking the item (the pointer stays on it, as it does for a user).
      await page.locator(`header nav a[data-page=${name}]`).click();
      await expect.poll(() => page.evaluate(() => location.hash)).toBe(`#/${name}`);
      // Let pages that refresh themselves (Cluster polls) render at least once.
      await page.waitForTimeout(300);
      const nav = await navState(page);
      expect(
        nav.filter((l) => l.current !== null).map((l) => l.page),
        name,
      ).toEqual([name]);
      expect(
        nav.filter((l) => l.background !== TRANSPARENT).map((l) => l.page),
        `${name}: links drawn highlighted`,
      ).toEqual([name]);
      // The pointer resting on another item must not draw a second highlight (the hover fill looked like
      // the current page's, so a page showed two items highlighted).
      const other = PAGES[(PAGES.indexOf(name) + 1) % PAGES.length]!;
      await page.locator(`header nav a[data-page=${other}]`).hover();
      const hovered = await navState(page);
      expect(
        hovered.filter((l) => l.background !== TRANSPARENT).map((l) => l.page),
        `${name} with the pointer on ${other}`,
      ).toEqual([name]);
      expect(hovered.find((l) => l.page === name)!.weight).toBe('600');
      expect(hovered.find((l) => l.page === other)!.weight).not.toBe('600');
    }
    await page.screenshot({ path: join(ARTIFACTS, '14-nav-cluster.png') });
  }, 60_000);
});
