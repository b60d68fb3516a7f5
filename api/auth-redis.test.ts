/**
 * A request that needs a token while the API's Redis is frozen (issue 18 #2): answered 503 with Retry-After
 * within the credential check's bound, instead of hanging until Redis returns. A real redis-server of the
 * test's own, frozen with SIGSTOP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../test/redis.js';
import { AUTH_REDIS_TIMEOUT_MS } from './auth.js';
import { startTestService, type TestService } from './service-harness.test-helpers.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('credentials checked while Redis is frozen', () => {
  let redis: ChildProcess | undefined;
  let dir = '';
  let svc: TestService | undefined;
  afterAll(async () => {
    redis?.kill('SIGCONT');
    await Promise.race([svc?.close(), sleep(10_000)]);
    redis?.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('issue 18 #2: a request with a token is answered 503 within the bound when Redis is frozen', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiosk-auth-redis-'));
    const port = await freePort();
    redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; ; i++) {
      try {
        svc = await startTestService(`redis://127.0.0.1:${port}`, {
          pools: false,
          env: { KIOSK_AUTH: 'tokens' },
        });
        break;
      } catch (err) {
        if (i > 50) throw err;
        await sleep(100);
      }
    }
    const { token } = await svc.services.tokens.create({ lab: 'lab-a' });
    const headers = { authorization: `Bearer ${token}` };
    expect((await svc.app.inject({ url: '/v1/jobs', headers })).statusCode).toBe(200);

    redis.kill('SIGSTOP');
    const t0 = performance.now();
    const r = await Promise.race([
      svc.app.inject({ url: '/v1/jobs', headers }),
      sleep(8000).then(() => 'no answer' as const),
    ]);
    const ms = performance.now() - t0;
    console.log(
      `GET /v1/jobs with a token, Redis frozen: ${r === 'no answer' ? 'no answer in 8 s' : `${r.statusCode} in ${ms.toFixed(0)} ms`}`,
    );
    expect(r).not.toBe('no answer');
    if (r === 'no answer') return;
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.json()).toMatchObject({
      error: 'unavailable',
      message: expect.stringMatching(/Redis did not answer/),
    });
    expect(ms).toBeLessThan(AUTH_REDIS_TIMEOUT_MS + 1000);

    redis.kill('SIGCONT');
    await expect
      .poll(async () => (await svc!.app.inject({ url: '/v1/jobs', headers })).statusCode, { timeout: 10_000 })
      .toBe(200);
  }, 30_000);
});
