/**
 * HTTP hardening (api/security.ts): security headers, allowed origins (CORS and the 403 for foreign pages),
 * the rate limit per lab or address, and — in Chromium — that the web UI and /docs still work under their
 * Content-Security-Policy.
 */
import type { Browser, Page } from 'playwright-core';
import { launchChromium, skipBrowserTests } from '../web/e2e/browser.js';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ensureWebBuilt } from '../web/build.js';
import { DOCS_CSP, rateLimitExempt, uiCsp } from './security.js';
import { startTestService, type TestService } from './service-harness.test-helpers.js';

const EVIL = 'https://evil.example';
const LAB_SITE = 'https://lab.example.org';

const services: TestService[] = [];
async function service(env: Record<string, string> = {}, listen = false): Promise<TestService> {
  const svc = await startTestService(inject('redisUrl'), { env, pools: false, listen });
  services.push(svc);
  return svc;
}
afterAll(async () => {
  for (const s of services) await s.close();
});

/** The directives of a CSP header, by name. */
function directives(csp: string | undefined): Map<string, string> {
  return new Map(
    (csp ?? '')
      .split(';')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => [d.split(/\s+/)[0]!, d.slice(d.indexOf(' ') + 1)]),
  );
}

describe('security headers', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await service();
  });

  it.each(['/', '/v1/health', '/v1/jobs', '/no/such/route'])('%s: CSP for the UI, nosniff, no framing, no referrer', async (url) => {
    const res = await svc.app.inject({ url });
    const csp = directives(res.headers['content-security-policy'] as string);
    expect(csp.get('default-src')).toBe("'self'");
    expect(csp.get('script-src')).toBe("'self'");
    expect(csp.get('script-src-attr')).toBe("'none'");
    expect(csp.get('style-src')).toBe("'self'");
    expect(csp.get('connect-src')).toBe("'self'");
    expect(csp.get('object-src')).toBe("'none'");
    expect(csp.get('frame-ancestors')).toBe("'none'");
    expect(csp.has('upgrade-insecure-requests')).toBe(false); // the local kiosk is plain http
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  }); // prettier-ignore

  it('/docs has its own policy (Swagger UI: inline styles, data: images), still no framing', async () => {
    for (const url of ['/docs', '/docs/static/index.html', '/docs/json']) {
      const res = await svc.app.inject({ url });
      expect(res.statusCode, url).toBeLessThan(400);
      expect(res.headers['content-security-policy'], url).toBe(DOCS_CSP);
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
    }
    expect(directives(DOCS_CSP).get('frame-ancestors')).toBe("'none'");
    expect(directives(DOCS_CSP).get('script-src')).toBe("'self'");
  });
});

describe("the UI may fetch the bucket's signed URLs (the Viewer loads labels from them in the cloud)", () => {
  it('S3 at a custom endpoint: connect-src adds exactly that origin; every other directive is unchanged', async () => {
    const local = await service();
    vi.stubEnv('AWS_ENDPOINT_URL_S3', 'http://10.88.0.1:4569'); // an S3-compatible server, as in the deploy rehearsal
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDDUMMY'); // presigning is local: no request is made
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'dummy-secret');
    let s3: TestService;
    let signed: string | undefined;
    try {
      s3 = await service({ KIOSK_BUCKET: 's3://lab-kiosk/kiosk' });
      signed = await s3.services.storage.signedUrl('results/lab/j1/labels.tif', 60);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(s3.services.storage.kind).toBe('s3');
    expect(new URL(signed!).origin).toBe('http://10.88.0.1:4569');
    const cloud = directives((await s3.app.inject({ url: '/' })).headers['content-security-policy'] as string);
    const mine = directives((await local.app.inject({ url: '/' })).headers['content-security-policy'] as string);
    expect(cloud.get('connect-src')).toBe("'self' http://10.88.0.1:4569");
    expect(mine.get('connect-src')).toBe("'self'"); // a local folder: the API serves the files itself
    cloud.delete('connect-src');
    mine.delete('connect-src');
    expect(cloud).toEqual(mine);
    expect(cloud.get('img-src')).toBe("'self' data: blob:"); // the Viewer draws decoded bytes on a canvas
  }); // prettier-ignore

  it('takes origins only, never anything that would change the rest of the policy', () => {
    expect(uiCsp(['https://lab-kiosk.s3.eu-west-1.amazonaws.com', 'http://[::1]:9000']).connectSrc).toEqual([
      "'self'",
      'https://lab-kiosk.s3.eu-west-1.amazonaws.com',
      'http://[::1]:9000',
    ]);
    for (const bad of ['*', 'https://x.example; script-src *', 'https://x.example/path', 'ftp://x.example', "'unsafe-eval'"])
      expect(() => uiCsp([bad]), bad).toThrow(/is not an http\(s\) origin/);
  }); // prettier-ignore
});

describe('origins', () => {
  it('by default only the kiosk itself: no CORS headers for another origin, and its writes are refused 403', async () => {
    const svc = await service();
    const read = await svc.app.inject({ url: '/v1/health', headers: { origin: EVIL } });
    expect(read.statusCode).toBe(200);
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
    const write = await svc.app.inject({ method: 'POST', url: '/v1/jobs', headers: { origin: EVIL }, payload: {} });
    expect(write.statusCode).toBe(403);
    expect(write.json()).toEqual({
      error: 'forbidden-origin',
      message: 'web pages at https://evil.example may not call this kiosk (allowed: its own origin; add origins with KIOSK_CORS_ORIGINS)',
    });
    const preflight = await svc.app.inject({
      method: 'OPTIONS',
      url: '/v1/jobs',
      headers: { origin: EVIL, 'access-control-request-method': 'POST' },
    });
    expect(preflight.statusCode).toBe(403);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const sandboxed = await svc.app.inject({ method: 'POST', url: '/v1/jobs', headers: { origin: 'null' }, payload: {} });
    expect(sandboxed.statusCode).toBe(403);
    // The UI's own requests: Origin equals the Host it was served from.
    const own = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' },
      payload: {},
    });
    expect(own.statusCode).toBe(400); // reached the route (the body lacks inputs)
    expect((own.json() as { error: string }).error).toBe('bad-request');
    // Clients that send no Origin (CLI, scripts, DeepCell clients) are not affected.
    expect((await svc.app.inject({ method: 'POST', url: '/v1/jobs', payload: {} })).statusCode).toBe(400);
  }); // prettier-ignore

  it('KIOSK_CORS_ORIGINS: listed origins get CORS headers and preflights; others still do not', async () => {
    const svc = await service({ KIOSK_CORS_ORIGINS: `${LAB_SITE}, http://localhost:3000/` });
    expect(svc.services.config.corsOrigins).toEqual([LAB_SITE, 'http://localhost:3000']);
    const preflight = await svc.app.inject({
      method: 'OPTIONS',
      url: '/v1/jobs',
      headers: { origin: LAB_SITE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(LAB_SITE);
    expect(String(preflight.headers['access-control-allow-methods'])).toMatch(/POST/);
    expect(String(preflight.headers['access-control-allow-headers'])).toMatch(/Authorization/);
    const read = await svc.app.inject({ url: '/v1/health', headers: { origin: 'http://localhost:3000' } });
    expect(read.headers['access-control-allow-origin']).toBe('http://localhost:3000');
    expect(String(read.headers.vary)).toMatch(/Origin/);
    const write = await svc.app.inject({ method: 'POST', url: '/v1/jobs', headers: { origin: LAB_SITE }, payload: {} });
    expect(write.statusCode).toBe(400);
    expect(write.headers['access-control-allow-origin']).toBe(LAB_SITE);
    const evil = await svc.app.inject({ url: '/v1/health', headers: { origin: EVIL } });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const evilWrite = await svc.app.inject({ method: 'POST', url: '/v1/jobs', headers: { origin: EVIL }, payload: {} });
    expect(evilWrite.statusCode).toBe(403);
    expect((evilWrite.json() as { message: string }).message).toMatch(/allowed: its own origin, https:\/\/lab\.example\.org, http:\/\/localhost:3000/);
  }); // prettier-ignore

  it('refuses a KIOSK_CORS_ORIGINS entry that is not an origin, at boot', async () => {
    const { loadConfig } = await import('../core/config.js');
    expect(() => loadConfig({ REDIS_URL: 'redis://x:1', KIOSK_CORS_ORIGINS: 'lab.example.org' })).toThrow(
      /'KIOSK_CORS_ORIGINS' entries must be origins like https:\/\/host\[:port\]; got "lab.example.org"/,
    );
    expect(() => loadConfig({ REDIS_URL: 'redis://x:1', KIOSK_CORS_ORIGINS: 'https://a.org/path' })).toThrow(/KIOSK_CORS_ORIGINS/);
  }); // prettier-ignore
});

describe('rate limit', () => {
  it('429 with Retry-After past KIOSK_RATE_LIMIT per window; per address without authentication', async () => {
    const svc = await service({ KIOSK_RATE_LIMIT: '3', KIOSK_RATE_WINDOW_S: '60' });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await svc.app.inject({ url: '/v1/jobs' });
      expect(res.statusCode).toBe(200);
      remaining.push(String(res.headers['x-ratelimit-remaining']));
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const over = await svc.app.inject({ url: '/v1/jobs' });
    expect(over.statusCode).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(55);
    expect(Number(over.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(over.json()).toMatchObject({ error: 'rate-limited' });
    expect((over.json() as { message: string }).message).toMatch(/^more than 3 requests in 60 s from this address; retry in \d+ s$/);
    // The DeepCell routes count too; another address has its own budget.
    expect((await svc.app.inject({ url: '/api/jobtypes' })).statusCode).toBe(429);
    expect((await svc.app.inject({ url: '/v1/jobs', remoteAddress: '10.0.0.2' })).statusCode).toBe(200);
  }); // prettier-ignore

  it('never counts health checks, metrics, the docs or the web UI files', async () => {
    const svc = await service({ KIOSK_RATE_LIMIT: '1' });
    for (let i = 0; i < 5; i++) {
      for (const url of ['/v1/health', '/api/health-check', '/metrics', '/docs/json', '/']) {
        const res = await svc.app.inject({ url });
        expect(res.statusCode, `${url} #${i}`).toBeLessThan(400);
        expect(res.headers['x-ratelimit-limit'], url).toBeUndefined();
      }
    }
    expect((await svc.app.inject({ url: '/v1/jobs' })).statusCode).toBe(200);
    expect((await svc.app.inject({ url: '/v1/jobs' })).statusCode).toBe(429);
    expect(rateLimitExempt('/index.html')).toBe(true);
    expect(rateLimitExempt('/app.js?v=1')).toBe(true);
    expect(rateLimitExempt('/v1/healthz')).toBe(false);
    expect(rateLimitExempt('/api/upload')).toBe(false);
  });

  it('with tokens, counts per lab (not per address), in Redis: every API replica shares the count', async () => {
    const env = { KIOSK_AUTH: 'tokens', KIOSK_RATE_LIMIT: '2', KIOSK_RATE_STORE: 'redis' };
    const svc = await service(env);
    const a = (await svc.services.tokens.create({ lab: 'lab-a' })).token;
    const a2 = (await svc.services.tokens.create({ lab: 'lab-a', name: 'second' })).token;
    const b = (await svc.services.tokens.create({ lab: 'lab-b' })).token;
    const get = (app: TestService['app'], token: string) =>
      app.inject({ url: '/v1/jobs', headers: { authorization: `Bearer ${token}` } });
    expect((await get(svc.app, a)).statusCode).toBe(200);
    expect((await get(svc.app, a2)).statusCode).toBe(200); // lab a's second token: same budget
    const over = await get(svc.app, a);
    expect(over.statusCode).toBe(429);
    expect((over.json() as { message: string }).message).toMatch(/from lab lab-a;/);
    expect((await get(svc.app, b)).statusCode).toBe(200); // same address, another lab
    // A second API process on the same Redis and prefix: lab a is still over, lab b has one left.
    const { buildApp } = await import('./app.js');
    const replica = await buildApp({ config: svc.services.config, services: svc.services });
    try {
      expect((await get(replica, a)).statusCode).toBe(429);
      expect((await get(replica, b)).statusCode).toBe(200);
      expect((await get(replica, b)).statusCode).toBe(429);
    } finally {
      await replica.close();
    }
  });
});

describe("the project's own HTTP client", () => {
  it('waits out a 429 as Retry-After says and goes on (kiosk predict polls many jobs)', async () => {
    const svc = await service({ KIOSK_RATE_LIMIT: '2', KIOSK_RATE_WINDOW_S: '1' }, true);
    const { KioskClient } = await import('./client.js');
    const client = new KioskClient(svc.url);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await client.listJobs());
    expect(answers).toEqual([[], [], [], [], []]);
    // The server did refuse some of them: the client retried.
    const direct = await Promise.all([1, 2, 3].map(() => fetch(`${svc.url}/v1/jobs`)));
    expect(direct.map((r) => r.status)).toContain(429);
  });
});

describe.skipIf(skipBrowserTests)('the web UI and /docs under their CSP, in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let url: string;
  const violations: string[] = [];
  beforeAll(async () => {
    await ensureWebBuilt();
    url = (await service({}, true)).url;
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    page.on('pageerror', (err) => violations.push(`page error: ${err.message}`));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('the UI renders its pages, styled, with no policy violation', async () => {
    violations.length = 0;
    await page.goto(`${url}/#/segment`);
    await page
      .getByRole('button', { name: /segment/i })
      .first()
      .waitFor({ timeout: 20_000 });
    // style.css applied (a stylesheet from 'self') and a style attribute set by the UI kept (style-src-attr).
    expect(await page.evaluate(() => document.styleSheets.length)).toBeGreaterThan(0);
    const margin = await page.evaluate(() => {
      const el = document.querySelector<HTMLElement>('[style]');
      return el ? getComputedStyle(el).marginTop + '|' + el.getAttribute('style') : 'none';
    });
    expect(margin).not.toBe('none');
    for (const hash of ['#/jobs', '#/models', '#/cluster']) {
      await page.goto(`${url}/${hash}`);
      await page.locator('main h1, main h2').first().waitFor({ timeout: 20_000 });
    }
    expect(violations).toEqual([]);
  });

  it('/docs renders the operations with no policy violation', async () => {
    violations.length = 0;
    await page.goto(`${url}/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(10);
    expect(violations).toEqual([]);
  });
});
