/**
 * Issue 18 (an outside attack on the kiosk), the API's small defects #7-#11 and #14, each against a real
 * service: the suite's private Redis, a temp-folder bucket, fastify via app.inject() or a listening server.
 */
import { connect } from 'node:net';
import { encode } from 'fast-png';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createKioskMetrics, observeInference } from '../workers/metrics/kiosk-metrics.js';
import { shareMetrics } from '../workers/metrics/shared.js';
import { TRIVIAL_CARD, TrivialThresholdRunner } from '../workers/processors/trivial-stages.js';
import { ConfigError, loadConfig } from '../core/config.js';
import {
  multipart,
  startTestService,
  type TestService,
  type TestServiceOptions,
} from './service-harness.test-helpers.js';

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

async function start(env: Record<string, string>, o: TestServiceOptions = {}): Promise<TestService> {
  svc = await startTestService(inject('redisUrl'), { pools: false, ...o, env });
  return svc;
}

const png = () => encode({ width: 8, height: 8, data: new Uint8Array(64).fill(9), channels: 1, depth: 8 });

/** Uploads one small PNG and returns its upload key. */
async function upload(s: TestService, headers: Record<string, string> = {}): Promise<string> {
  const mp = await multipart([['file', 'a.png', png()]]);
  const res = await s.app.inject({
    method: 'POST',
    url: '/v1/uploads',
    payload: mp.payload,
    headers: { ...mp.headers, ...headers },
  });
  expect(res.statusCode, res.body).toBe(201);
  return (res.json() as { uploads: { key: string }[] }).uploads[0]!.key;
}

describe('issue 18: the API', () => {
  it('issue 18 #7: an encoded path cannot bypass the rate limit', async () => {
    const s = await start({ KIOSK_RATE_LIMIT: '3', KIOSK_RATE_WINDOW_S: '60' });
    const from = (ip: string) => ({ remoteAddress: ip });
    // /%761/jobs is /v1/jobs to the router: the fourth request in the window is refused
    const codes: number[] = [];
    for (let i = 0; i < 5; i++)
      codes.push((await s.app.inject({ url: '/%761/jobs', ...from('10.1.0.1') })).statusCode);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    // /%61pi/redis is /api/redis
    const redis: number[] = [];
    for (let i = 0; i < 5; i++)
      redis.push(
        (
          await s.app.inject({
            method: 'POST',
            url: '/%61pi/redis',
            payload: { hash: 'nope', key: 'status' },
            ...from('10.1.0.2'),
          })
        ).statusCode,
      );
    expect(redis).toEqual([200, 200, 200, 429, 429]);
    // encoded or not, health checks and the web UI stay outside the limit
    for (let i = 0; i < 6; i++) {
      expect((await s.app.inject({ url: '/v1/health', ...from('10.1.0.3') })).statusCode).not.toBe(429);
      expect((await s.app.inject({ url: '/%761/health', ...from('10.1.0.3') })).statusCode).not.toBe(429);
      expect((await s.app.inject({ url: '/', ...from('10.1.0.3') })).statusCode).not.toBe(429);
    }
  });

  it('issue 18 #8: a multipart body without a boundary is a 400 naming it on every upload route', async () => {
    const s = await start({});
    for (const url of ['/v1/uploads', '/v1/jobs/upload', '/api/upload', '/v1/trainings/upload'])
      for (const type of [
        'multipart/form-data',
        'multipart/form-data; boundary=',
        'multipart/form-data; boundary=""',
      ]) {
        const res = await s.app.inject({
          method: 'POST',
          url,
          headers: { 'content-type': type },
          payload:
            '--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc\r\n--x--\r\n',
        });
        expect(res.statusCode, `${url} ${type}: ${res.body}`).toBe(400);
        expect(res.json(), url).toMatchObject({
          error: 'bad-request',
          message: expect.stringMatching(/boundary/),
        });
      }
  });

  it('issue 18 #8: a truncated upload that stalls is answered 408 after KIOSK_BODY_TIMEOUT_S', async () => {
    const s = await start({ KIOSK_AUTH: 'tokens', KIOSK_BODY_TIMEOUT_S: '1' }, { listen: true });
    const { token } = await s.services.tokens.create({ lab: 'lab-a' });
    const { port } = new URL(s.url);
    const head =
      '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n';
    const sent = head + 'x'.repeat(1000); // of a body announced as 50,000 bytes
    const socket = connect(Number(port), '127.0.0.1');
    const t0 = performance.now();
    const answer = await new Promise<{ text: string; closed: boolean }>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve({ text, closed: true }));
      socket.on('error', () => undefined);
      // no answer within 8 s: the request hangs (what this test catches)
      setTimeout(() => resolve({ text, closed: false }), 8000);
      socket.write(
        `POST /v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 50000\r\n\r\n${sent}`,
      );
    });
    socket.destroy();
    const seconds = (performance.now() - t0) / 1000;
    expect(answer.closed, 'the connection is closed').toBe(true);
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.text).toMatch(/"error":"request-timeout".*KIOSK_BODY_TIMEOUT_S/);
    expect(seconds).toBeGreaterThan(0.9);
    expect(seconds).toBeLessThan(5);
    // the API still serves, and a whole upload still goes through
    await upload(s, { authorization: `Bearer ${token}` });
  });

  it('issue 18 #8: a slow upload that keeps moving is not cut by KIOSK_BODY_TIMEOUT_S', async () => {
    const s = await start({ KIOSK_BODY_TIMEOUT_S: '1' }, { listen: true });
    const { payload, headers } = await multipart([['file', 'a.png', png()]]);
    const { port } = new URL(s.url);
    const socket = connect(Number(port), '127.0.0.1');
    const pieces = 8; // over about 2.4 s, each gap 0.3 s: longer in all than the timeout, never silent for it
    const t0 = performance.now();
    const text = await new Promise<string>((resolve, reject) => {
      let out = '';
      socket.on('data', (d: Buffer) => {
        out += d.toString();
        if (/\r\n\r\n\{.*\}$/s.test(out)) resolve(out);
      });
      socket.on('error', reject);
      socket.write(
        `POST /v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${headers['content-type']}\r\n` +
          `Content-Length: ${payload.length}\r\n\r\n`,
      );
      const size = Math.ceil(payload.length / pieces);
      let i = 0;
      const next = () => {
        socket.write(payload.subarray(i * size, (i + 1) * size));
        if (++i < pieces) setTimeout(next, 300);
      };
      setTimeout(next, 300);
    });
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 201 /);
    expect((performance.now() - t0) / 1000).toBeGreaterThan(2);
  });

  it('issue 18 #9: /metrics does not name lab-private models', async () => {
    const s = await start({ KIOSK_AUTH: 'tokens' });
    // a worker's shared metrics, as the local kiosk's workers publish them through Redis
    const registry = new Registry();
    const m = createKioskMetrics({ registry });
    observeInference(m, 'labbmodel/1', 0.2, 4);
    observeInference(m, 'labcmodel/3', 0.3, 2);
    observeInference(m, 'trivial', 0.1, 8);
    const shared = shareMetrics({ redis: s.services.redis, prefix: s.services.config.prefix, registry });
    await shared.stop();
    const res = await s.app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toMatch(/labbmodel|labcmodel/);
    // the private models' calls are still counted, together, under a label that names none of them
    expect(res.body).toMatch(/kiosk_inference_seconds_count\{model="lab-private"\} 2/);
    expect(res.body).toMatch(/kiosk_inference_batch_tiles_sum\{model="lab-private"\} 6/);
    // a shared model keeps its name
    expect(res.body).toMatch(/kiosk_inference_seconds_count\{model="trivial"\} 1/);
  });

  it('issue 18 #10: a valid token is never locked out by failed logins from its address', async () => {
    const s = await start({ KIOSK_AUTH: 'tokens', KIOSK_AUTH_FAIL_LIMIT: '3', KIOSK_RATE_WINDOW_S: '30' });
    const { token: tokenB } = await s.services.tokens.create({ lab: 'lab-b' });
    const nat = { remoteAddress: '10.2.0.1' };
    const forged = `${tokenB.slice(0, 16)}${'Z'.repeat(43)}`;
    for (let i = 0; i < 3; i++)
      expect(
        (await s.app.inject({ url: '/v1/jobs', headers: { 'x-api-key': forged }, ...nat })).statusCode,
      ).toBe(401);
    // lab B's valid token from the same address still works
    const ok = await s.app.inject({
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${tokenB}` },
      ...nat,
    });
    expect(ok.statusCode, ok.body).toBe(200);
    // guesses (and requests without a token) from that address wait out the window
    const again = await s.app.inject({ url: '/v1/jobs', headers: { 'x-api-key': forged }, ...nat });
    expect(again.statusCode).toBe(429);
    expect(again.json().message).toMatch(/3 failed authentications from this address in 30 s/);
    expect((await s.app.inject({ url: '/v1/jobs', ...nat })).statusCode).toBe(429);
    // without KIOSK_TRUST_PROXY a client cannot dodge the count with its own X-Forwarded-For
    const spoof = await s.app.inject({
      url: '/v1/jobs',
      headers: { 'x-api-key': forged, 'x-forwarded-for': '198.51.100.9' },
      ...nat,
    });
    expect(spoof.statusCode).toBe(429);
  });

  it('issue 18 #10: behind a trusted proxy (KIOSK_TRUST_PROXY) failures count per client, not per proxy', async () => {
    const s = await start({
      KIOSK_AUTH: 'tokens',
      KIOSK_AUTH_FAIL_LIMIT: '3',
      KIOSK_RATE_WINDOW_S: '30',
      KIOSK_TRUST_PROXY: '10.3.0.0/16',
    });
    const viaIngress = (client: string) => ({
      remoteAddress: '10.3.0.5',
      headers: { 'x-forwarded-for': client, 'x-api-key': 'ck_000000000000_' + 'Q'.repeat(43) },
    });
    for (let i = 0; i < 4; i++) await s.app.inject({ url: '/v1/jobs', ...viaIngress('203.0.113.1') });
    expect((await s.app.inject({ url: '/v1/jobs', ...viaIngress('203.0.113.1') })).statusCode).toBe(429);
    // another user behind the same Ingress is not blocked
    const other = await s.app.inject({ url: '/v1/jobs', ...viaIngress('203.0.113.2') });
    expect(other.statusCode, other.body).toBe(401);
    // and a peer outside the trusted range is judged by its own address, whatever it claims
    const direct = await s.app.inject({
      url: '/v1/jobs',
      remoteAddress: '192.0.2.7',
      headers: { 'x-forwarded-for': '203.0.113.1' },
    });
    expect(direct.statusCode).toBe(401);
    const env = { REDIS_URL: 'redis://127.0.0.1:1' };
    expect(loadConfig({ ...env, KIOSK_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ ...env }).trustProxy).toBe(false);
    expect(() => loadConfig({ ...env, KIOSK_TRUST_PROXY: 'the ingress' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, KIOSK_TRUST_PROXY: 'the ingress' })).toThrow(/KIOSK_TRUST_PROXY/);
  });

  it('issue 18 #10: KIOSK_TRUST_PROXY=2 (GKE: client, forwarding rule) takes the client two hops back', async () => {
    const s = await start({
      KIOSK_AUTH: 'tokens',
      KIOSK_AUTH_FAIL_LIMIT: '2',
      KIOSK_RATE_WINDOW_S: '30',
      KIOSK_TRUST_PROXY: '2',
    });
    const bad = 'ck_000000000000_' + 'R'.repeat(43);
    // X-Forwarded-For: <whatever the client sent>, <client>, <load balancer>; the peer is Google's proxy
    const via = (xff: string) => ({
      remoteAddress: '35.191.0.9',
      headers: { 'x-forwarded-for': xff, 'x-api-key': bad },
    });
    for (let i = 0; i < 2; i++)
      await s.app.inject({ url: '/v1/jobs', ...via(`1.1.1.${i}, 203.0.113.1, 34.1.1.1`) });
    // the guesser cannot dodge the count by changing what it sends itself
    expect(
      (await s.app.inject({ url: '/v1/jobs', ...via('9.9.9.9, 203.0.113.1, 34.1.1.1') })).statusCode,
    ).toBe(429);
    expect((await s.app.inject({ url: '/v1/jobs', ...via('203.0.113.2, 34.1.1.1') })).statusCode).toBe(401);
  });

  it('issue 18 #11: /api/redis/expire refuses an expiry Redis cannot set instead of reporting success', async () => {
    const s = await start({});
    const key = await upload(s);
    const created = await s.app.inject({ method: 'POST', url: '/v1/jobs', payload: { inputs: [key] } });
    const hash = (created.json() as { id: string }).id;
    const recordKey = s.services.records.key(hash);
    for (const expireIn of ['1e18', '9223372036854775808', '1e300', '0']) {
      const res = await s.app.inject({
        method: 'POST',
        url: '/api/redis/expire',
        headers: { 'content-type': 'application/json' },
        payload: `{"hash":"${hash}","expireIn":${expireIn}}`,
      });
      expect(res.statusCode, `${expireIn}: ${res.body}`).toBe(400);
      expect(res.json().message, expireIn).toMatch(/expireIn/);
      expect(res.json().message, expireIn).toMatch(/2147483647|>= 1/);
      expect(await s.services.redis.ttl(recordKey)).toBe(-1);
    }
  });

  it('issue 18 #11: an expiry set while a job runs is kept when the job finishes', async () => {
    const s = await start({});
    const key = await upload(s);
    const created = await s.app.inject({ method: 'POST', url: '/v1/jobs', payload: { inputs: [key] } });
    const hash = (created.json() as { id: string }).id;
    const recordKey = s.services.records.key(hash);
    // finishing it (as a worker does) keeps the user's expiry instead of KIOSK_JOB_TTL_S (3600 here)
    const set = await s.app.inject({
      method: 'POST',
      url: '/api/redis/expire',
      payload: { hash, expireIn: 120 },
    });
    expect(set.json()).toEqual({ value: 1 });
    expect(await s.services.records.finish(hash, 'done')).toBe(true);
    const ttl = await s.services.redis.ttl(recordKey);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    // a job finished without one gets the finished-job TTL as before
    const other = await s.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { inputs: [await upload(s)] },
    });
    const otherId = (other.json() as { id: string }).id;
    await s.services.records.finish(otherId, 'done');
    expect(await s.services.redis.ttl(s.services.records.key(otherId))).toBeGreaterThan(3500);
  });

  it('issue 18 #14: error codes agree with the status (415, unknown route, __proto__ body)', async () => {
    const s = await start({});
    const media = await s.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': 'text/csv' },
      payload: 'a,b',
    });
    expect(media.statusCode).toBe(415);
    expect(media.json()).toMatchObject({
      error: 'unsupported-media-type',
      message: expect.stringMatching(/text\/csv/),
    });
    const route = await s.app.inject({ method: 'POST', url: '/v1/no-such-route' });
    expect(route.statusCode).toBe(404);
    expect(route.json()).toMatchObject({
      error: 'route-not-found',
      message: 'no route POST /v1/no-such-route',
    });
    const proto = await s.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': 'application/json' },
      payload: '{"inputs":["uploads/default/x/a.png"],"__proto__":{"admin":true}}',
    });
    expect(proto.statusCode).toBe(400);
    expect(proto.json().error).toBe('bad-request');
    expect(proto.json().message).toMatch(/__proto__/);
    expect(proto.json().message).not.toMatch(/not valid JSON/);
    const broken = await s.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': 'application/json' },
      payload: '{"inputs":[',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().message).toMatch(/not valid JSON/);
  });

  it('issue 18 #14: an out-of-range micronsPerPixel is refused at the API, naming the allowed range', async () => {
    const runner = new TrivialThresholdRunner();
    const s = await start(
      {},
      {
        customModels: {
          'trivial@1': { card: TRIVIAL_CARD, createRunner: async () => runner },
          'mpp@1': {
            card: { name: 'mpp', version: 1, input: { mpp: 0.5 } },
            createRunner: async () => runner,
          },
        },
      },
    );
    const key = await upload(s);
    const create = (options: object, model = 'trivial') =>
      s.app.inject({ method: 'POST', url: '/v1/jobs', payload: { model, inputs: [key], options } });
    const huge = await create({ micronsPerPixel: 1e308 });
    expect(huge.statusCode, huge.body).toBe(400);
    expect(huge.json().message).toMatch(/micronsPerPixel must be <= 100/);
    // the same through the one-request upload-and-create route
    const mp = await multipart([['file', 'a.png', png()]], {
      model: 'trivial',
      options: '{"micronsPerPixel":1e308}',
    });
    const viaUpload = await s.app.inject({ method: 'POST', url: '/v1/jobs/upload', ...mp });
    expect(viaUpload.statusCode, viaUpload.body).toBe(400);
    expect(viaUpload.json().message).toMatch(/micronsPerPixel/);
    // against a model's own µm/px: at most 8x either way
    const far = await create({ micronsPerPixel: 50 }, 'mpp');
    expect(far.statusCode, far.body).toBe(400);
    expect(far.json().message).toMatch(/'micronsPerPixel' must be in \[0\.0625, 4\] µm\/px for model mpp/);
    expect((await create({ micronsPerPixel: 0.01 }, 'mpp')).statusCode).toBe(400);
    expect((await create({ micronsPerPixel: 4 }, 'mpp')).statusCode).toBe(201);
    // the DeepCell route's scale, unchecked by a schema there, gets the pipeline's range too
    const dc = await s.app.inject({
      method: 'POST',
      url: '/api/predict',
      payload: {
        jobType: 'segmentation',
        modelName: 'trivial',
        imageName: 'a.png',
        uploadedName: key,
        dataRescale: '1e9',
      },
    });
    expect(dc.statusCode, dc.body).toBe(400);
    expect(dc.json().message).toMatch(/'scale' must be in \[0\.125, 8\]/);
  });
});
