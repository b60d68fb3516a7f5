/**
 * The browser client's rate-limit handling, run in Node (global fetch) against a real HTTP server that
 * answers 429 with Retry-After the way the kiosk's rate limiter does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { kioskFetch, retryDelayMs } from './api.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function serve(limitedFor: number, retryAfter: string): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  server = createServer((_req, res) => {
    hits++;
    if (hits <= limitedFor) {
      res.writeHead(429, { 'retry-after': retryAfter, 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'rate-limited', message: 'slow down' }));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    }
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/v1/jobs`, hits: () => hits };
}

describe('kioskFetch', () => {
  it('waits out 429s as Retry-After says and returns the answer that follows', async () => {
    const s = await serve(2, '0.2');
    const t0 = Date.now();
    const res = await kioskFetch(s.url);
    expect(res.status).toBe(200);
    expect(s.hits()).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390); // two waits of 200 ms
  });

  it('gives up after 5 retries and hands back the 429', async () => {
    const s = await serve(100, '0.01');
    const res = await kioskFetch(s.url);
    expect(res.status).toBe(429);
    expect(s.hits()).toBe(6);
  });

  it('retryDelayMs: Retry-After seconds, else exponential backoff, capped at 60 s', () => {
    expect(retryDelayMs('3', 0)).toBe(3000);
    expect(retryDelayMs(null, 2)).toBe(4000);
    expect(retryDelayMs('junk', 0)).toBe(1000);
    expect(retryDelayMs('3600', 0)).toBe(60_000);
  });
});
