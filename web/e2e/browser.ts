/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium through playwright-core (no
 * downloaded browser). Outside CI the tests are skipped when it is missing (`apt-get install -y chromium`);
 * in CI they run, so a missing browser fails them instead of passing silently.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Where browser tests leave screenshots and downloads. */
export const ARTIFACTS = resolve('test-artifacts/web');

/** True when the browser tests cannot run here (no Chromium) and are not required (not CI). */
export const skipBrowserTests = !existsSync(CHROMIUM) && !process.env.CI;

/** Starts headless Chromium with the flags this machine needs (no sandbox as root, no GPU, no network). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
