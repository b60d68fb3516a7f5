/**
 * The set-up every browser test file shares: a kiosk from the harness (kiosk-harness.ts: its own API,
 * workers and grant-checked bucket on the suite's Redis), headless Chromium, and one page of the web UI whose
 * script errors are echoed to stderr. `close()` shuts the browser, then the kiosk (whose close() fails on a
 * grant violation). A set-up that fails half-way closes what it had started.
 */
import { mkdir } from 'node:fs/promises';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { ARTIFACTS, launchChromium } from './browser.js';
import { startKiosk, type Kiosk, type KioskOptions } from './kiosk-harness.js';

export interface KioskPage {
  readonly kiosk: Kiosk;
  readonly browser: Browser;
  readonly page: Page;
  close(): Promise<void>;
}

/** The viewport of the tests' pages unless they say otherwise (a laptop screen). */
export const DEFAULT_VIEWPORT = { width: 1366, height: 768 } as const;

/** A new page in its own context of `browser` (viewport {@link DEFAULT_VIEWPORT} unless `context` says), page errors to stderr. */
export async function newKioskPage(browser: Browser, context: BrowserContextOptions = {}): Promise<Page> {
  const page = await (await browser.newContext({ viewport: DEFAULT_VIEWPORT, ...context })).newPage();
  page.on('pageerror', (err) => process.stderr.write(`[page error] ${err.message}\n`));
  return page;
}

/** Starts a kiosk (options `kiosk`) and Chromium, and opens one page (options `context`); ARTIFACTS exists after it. */
export async function openKioskPage(
  redisUrl: string,
  o: { readonly kiosk?: KioskOptions; readonly context?: BrowserContextOptions } = {},
): Promise<KioskPage> {
  await mkdir(ARTIFACTS, { recursive: true });
  const kiosk = await startKiosk(redisUrl, o.kiosk);
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await newKioskPage(browser, o.context);
    const b = browser;
    return {
      kiosk,
      browser: b,
      page,
      async close() {
        await b.close();
        await kiosk.close();
      },
    };
  } catch (err) {
    await browser?.close();
    await kiosk.close();
    throw err;
  }
}
