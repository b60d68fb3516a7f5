/**
 * In Chromium: the Viewer of a cloud kiosk loads a job's labels from the bucket by signed URL, which the
 * page's Content-Security-Policy must allow (connect-src, api/security.ts) and the bucket's CORS rules must
 * allow (constructs/). The bucket is s3rver, a real S3-compatible server on a local port (another origin
 * than the API), reached by the kiosk through its own S3 backend with real presigned URLs; the kiosk runs
 * its in-process workers (trivial model) on it. Without the bucket's origin in connect-src the fetch is
 * refused by the browser; without CORS the Viewer says why instead of showing a blank canvas.
 */
import { DeleteBucketCorsCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { NUCLEI_VAL } from '../test/data.js';
import { ensureWebBuilt } from '../web/build.js';
import { launchChromium, skipBrowserTests } from '../web/e2e/browser.js';
import { multipart, startTestService, type TestService } from './service-harness.test-helpers.js';

const BUCKET = 'lab-kiosk';
/** s3rver's built-in account: it checks the signatures of every request and presigned URL. */
const S3RVER_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
/** What the synthesized bucket CORS allows: GET from the UI's origin (here any origin). */
const CORS_XML =
  '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>' +
  '<AllowedMethod>HEAD</AllowedMethod><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule></CORSConfiguration>';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** The messages of CSP refusals and page errors a page logged. */
function watch(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to|CORS/i.test(m.text())) seen.push(m.text());
  });
  page.on('pageerror', (err) => seen.push(`page error: ${err.message}`));
  return seen;
}

describe.skipIf(skipBrowserTests)(
  "the Viewer loads labels from a cloud bucket's signed URL, in Chromium",
  () => {
    let dir: string;
    let s3rver: S3rverInstance;
    let bucketOrigin: string;
    let cloud: TestService;
    let local: TestService;
    let browser: Browser;
    let jobId: string;
    let labelsUrl: string;
    let token: string;

    beforeAll(async () => {
    await ensureWebBuilt();
    dir = await mkdtemp(join(tmpdir(), 'kiosk-csp-bucket-'));
    // A specifier TypeScript does not resolve: s3rver ships no types (the small part used is typed above).
    const { default: S3rver } = (await import('s3rver' as string)) as { default: S3rverClass };
    s3rver = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: join(dir, 's3rver'),
      configureBuckets: [{ name: BUCKET, configs: [CORS_XML] }],
    });
    bucketOrigin = `http://127.0.0.1:${(await s3rver.run()).port}`;
    // The kiosk finds its bucket the way a pod does: the environment (as the deploy rehearsal sets it).
    vi.stubEnv('AWS_ENDPOINT_URL_S3', bucketOrigin);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_KEY.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_KEY.secretAccessKey);
    cloud = await startTestService(inject('redisUrl'), { env: { KIOSK_BUCKET: `s3://${BUCKET}/kiosk` }, listen: true });
    local = await startTestService(inject('redisUrl'), { pools: false, listen: true });
    browser = await launchChromium();
    // A cloud kiosk requires API tokens: the page keeps one in localStorage, as the UI's token form does.
    token = (await cloud.services.tokens.create({ lab: 'lab-a' })).token;

    const image = (await readdir(NUCLEI_VAL)).filter((n) => n.endsWith('.image.png')).sort()[0]!;
    const res = await cloud.app.inject({
      method: 'POST',
      url: '/v1/jobs/upload',
      ...(await (async () => {
        const body = await multipart([['file', 'cells.png', await readFile(join(NUCLEI_VAL, image))]]);
        return { ...body, headers: { ...body.headers, authorization: `Bearer ${token}` } };
      })()),
    });
    expect(res.statusCode, res.body).toBe(201);
    jobId = (res.json() as { id: string }).id;
    expect((await cloud.wait(jobId)).status).toBe('done');
    const view = await cloud.app.inject({ url: `/v1/jobs/${jobId}`, headers: { authorization: `Bearer ${token}` } });
    labelsUrl = (view.json() as { labelsUrl: string }).labelsUrl;
  }, 120_000); // prettier-ignore

    afterAll(async () => {
      await browser?.close();
      await cloud?.close();
      await local?.close();
      await s3rver?.close();
      vi.unstubAllEnvs();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A fresh browser context (no cached bucket answers) with one page, and what it logs. */
    async function freshPage(): Promise<{ context: BrowserContext; page: Page; logged: string[] }> {
      const context = await browser.newContext();
      await context.addInitScript((t) => localStorage.setItem('cellkiosk.token', t), token);
      const page = await context.newPage();
      return { context, page, logged: watch(page) };
    }

    it('the labels come from the bucket by signed URL, and the Viewer draws them with no policy violation', async () => {
    expect(labelsUrl.startsWith(`${bucketOrigin}/${BUCKET}/kiosk/results/`)).toBe(true);
    expect(labelsUrl).toMatch(/[?&]X-Amz-Signature=/);
    const { context, page, logged } = await freshPage();
    const fromBucket: number[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(`${bucketOrigin}/`)) fromBucket.push(r.status());
    });
    await page.goto(`${cloud.url}/#/viewer/${jobId}`);
    await page.waitForSelector('[data-testid=viewer-canvas][data-ready="1"], .notice.bad', { timeout: 30_000 });
    expect(await page.locator('.notice.bad').allTextContents()).toEqual([]);
    expect(await page.locator('[data-testid=viewer-canvas][data-ready="1"]').count()).toBe(1);
    expect(fromBucket).toContain(200);
    expect(logged).toEqual([]);
    await context.close();
  }); // prettier-ignore

    it("the same fetch from a page under a local kiosk's policy (connect-src 'self') is refused by the browser", async () => {
    const { context, page, logged } = await freshPage();
    const fetchFrom = async (origin: string) => {
      await page.goto(`${origin}/`);
      return page.evaluate(async (url) => {
        try {
          return `ok ${(await fetch(url)).status}`;
        } catch (err) {
          return `refused: ${(err as Error).message}`;
        }
      }, labelsUrl);
    };
    expect(await fetchFrom(local.url)).toBe('refused: Failed to fetch');
    expect(logged.join('\n')).toMatch(/violates the following Content Security Policy directive: "connect-src 'self'"/);
    logged.length = 0;
    expect(await fetchFrom(cloud.url)).toBe('ok 200');
    expect(logged).toEqual([]);
    await context.close();
  }); // prettier-ignore

    it('a bucket without CORS for the page: the Viewer says what failed and where, not a blank canvas', async () => {
      const admin = new S3Client({ endpoint: bucketOrigin, region: 'us-east-1', credentials: S3RVER_KEY });
      await admin.send(new DeleteBucketCorsCommand({ Bucket: BUCKET }));
      admin.destroy();
      const { context, page } = await freshPage();
      await page.goto(`${cloud.url}/#/viewer/${jobId}`);
      const notice = page.locator('.notice.bad');
      await notice.waitFor({ timeout: 30_000 });
      expect(await notice.textContent()).toMatch(
        new RegExp(
          `^Could not read the labels of cells\\.png: the bucket at ${bucketOrigin} did not answer this page ` +
            `\\(Failed to fetch\\): its CORS rules may not allow this page's origin, .*the browser console says which$`,
        ),
      );
      expect(await page.locator('[data-testid=viewer-canvas]').count()).toBe(0);
      await context.close();
    });
  },
);
