import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { listenAddress } from './auth.js';
import { KioskClient } from './client.js';
import { ConfigError, loadConfig } from '../core/config.js';
import { startTestService, type TestService } from './service-harness.test-helpers.js';
import { TokenError, TokenStore } from '../core/tokens.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

describe('TokenStore (real Redis)', () => {
  const prefix = `test-${randomUUID()}`;
  let redis: Redis;
  let store: TokenStore;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    store = new TokenStore(redis, prefix, 0);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('stores only the SHA-256 of a token: no Redis value holds the token or its secret', async () => {
    const { token, info } = await store.create({ lab: 'lab-a', role: 'admin', name: 'alice laptop' });
    expect(token).toMatch(/^ck_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(info).toMatchObject({ lab: 'lab-a', role: 'admin', name: 'alice laptop' });
    const secret = token.split('_').slice(2).join('_');
    const dump: string[] = [];
    for (const key of await redis.keys(`${prefix}:*`)) {
      const type = await redis.type(key);
      if (type === 'hash') dump.push(...Object.entries(await redis.hgetall(key)).flat());
      else if (type === 'set') dump.push(...(await redis.smembers(key)));
      else if (type === 'string') dump.push((await redis.get(key)) ?? '');
      dump.push(key);
    }
    const all = dump.join('\n');
    expect(all).not.toContain(token);
    expect(all).not.toContain(secret);
    expect(all).toContain(createHash('sha256').update(token).digest('hex'));
    expect((await store.verify(token)).ok).toBe(true);
  });

  it('refuses malformed, unknown and revoked tokens with the reason; revoke by id start or ck_<id>', async () => {
    const { token, info } = await store.create({ lab: 'lab-b' });
    expect(info.role).toBe('member');
    expect(await store.verify('hello')).toEqual({
      ok: false,
      reason: expect.stringMatching(/malformed/) as string,
    });
    // right id, wrong secret: unknown (a guessed id gets the same answer as a made-up one)
    const forged = `${token.slice(0, 16)}${'A'.repeat(43)}`;
    expect(await store.verify(forged)).toEqual({ ok: false, reason: 'unknown token' });
    expect(await store.verify(`ck_000000000000_${'A'.repeat(43)}`)).toEqual({
      ok: false,
      reason: 'unknown token',
    });
    await expect(store.revoke(info.id.slice(0, 6), { lab: 'lab-a' })).rejects.toThrow(
      /no active token .* in lab lab-a/,
    );
    const revoked = await store.revoke(`ck_${info.id}`);
    expect(revoked).toMatchObject({ id: info.id, lab: 'lab-b' });
    const after = await store.verify(token);
    expect(after.ok).toBe(false);
    expect(!after.ok && after.reason).toMatch(new RegExp(`token ${info.id} was revoked at 20`));
    await expect(store.revoke(info.id)).rejects.toThrow(TokenError); // already revoked
    expect((await store.list({ lab: 'lab-b' })).map((t) => t.id)).not.toContain(info.id);
    expect((await store.list({ lab: 'lab-b', includeRevoked: true })).map((t) => t.id)).toContain(info.id);
  });

  it('rejects bad labs, roles and names, and ambiguous id starts', async () => {
    await expect(store.create({ lab: 'a/b' })).rejects.toThrow(/lab must be 1-64/);
    await expect(store.create({ lab: 'x', role: 'root' as 'admin' })).rejects.toThrow(/role must be/);
    await expect(store.create({ lab: 'x', name: 'a\nb' })).rejects.toThrow(/control characters/);
    await expect(store.revoke('zz')).rejects.toThrow(/not a token id/);
    // two tokens whose ids share a start (written as create() writes them)
    for (const id of ['abcd00000001', 'abcd00000002'])
      await redis
        .multi()
        .hset(`${prefix}:token:${id}`, {
          id,
          lab: 'many',
          role: 'member',
          name: '',
          sha256: '00',
          created_at: new Date().toISOString(),
        })
        .sadd(`${prefix}:tokens`, id)
        .exec();
    await expect(store.revoke('abcd')).rejects.toThrow(
      /abcd matches 2 tokens \(abcd00000001, abcd00000002\)/,
    );
    expect((await store.revoke('ABCD00000002')).id).toBe('abcd00000002');
    expect((await store.revoke('abcd')).id).toBe('abcd00000001'); // now unique
  });

  it('signs download links per path and lab; a changed path, lab or signature, or an old link, is refused', async () => {
    const path = '/v1/jobs/abc/files/x_feature_0.tif';
    const q = Object.fromEntries(new URLSearchParams(await store.signPath(path, 'lab-a', 60)));
    expect(await store.verifySigned(path, q)).toEqual({ ok: true, lab: 'lab-a' });
    expect(await store.verifySigned('/v1/jobs/abd/files/x_feature_0.tif', q)).toMatchObject({
      ok: false,
      reason: 'bad link signature',
    });
    expect(await store.verifySigned(path, { ...q, lab: 'lab-b' })).toMatchObject({ ok: false });
    expect(await store.verifySigned(path, { ...q, signature: '0'.repeat(64) })).toMatchObject({ ok: false });
    expect(await store.verifySigned(path, { lab: 'lab-a' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/malformed/) as string,
    });
    const old = Object.fromEntries(new URLSearchParams(await store.signPath(path, 'lab-a', -1)));
    expect(await store.verifySigned(path, old)).toEqual({ ok: false, reason: 'the signed link has expired' });
    // a second store on the same Redis (another API replica) shares the key
    const other = new TokenStore(redis, prefix);
    expect(await other.verifySigned(path, q)).toEqual({ ok: true, lab: 'lab-a' });
  });
});

describe('configuration: modes and listening address', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6390' };
  it('local mode defaults to auth off on 127.0.0.1; cloud mode defaults to tokens on 0.0.0.0', () => {
    expect(loadConfig(base)).toMatchObject({ mode: 'local', auth: 'off', host: '127.0.0.1' });
    expect(loadConfig({ ...base, KIOSK_MODE: 'cloud' })).toMatchObject({ auth: 'tokens', host: '0.0.0.0' });
    expect(loadConfig({ ...base, KIOSK_BUCKET: 'gs://lab-bucket' })).toMatchObject({ mode: 'cloud' });
    expect(loadConfig({ ...base, KIOSK_STORAGE: 's3', KIOSK_BUCKET: 'b' })).toMatchObject({ mode: 'cloud' });
    expect(loadConfig({ ...base, KIOSK_AUTH: 'tokens' })).toMatchObject({ mode: 'local', auth: 'tokens' });
  });

  it('cloud mode refuses KIOSK_AUTH=off; a bad KIOSK_AUTH or KIOSK_MODE is named', () => {
    expect(() => loadConfig({ ...base, KIOSK_MODE: 'cloud', KIOSK_AUTH: 'off' })).toThrow(
      /cloud mode refuses to run without authentication/,
    );
    expect(() => loadConfig({ ...base, KIOSK_AUTH: 'basic' })).toThrow(/'KIOSK_AUTH' must be off or tokens/);
    expect(() => loadConfig({ ...base, KIOSK_MODE: 'space' })).toThrow(ConfigError);
  });

  it('without tokens a local kiosk listens on 127.0.0.1 only, whatever HOST says, and says so', () => {
    const open = listenAddress(loadConfig({ ...base, HOST: '0.0.0.0' }));
    expect(open.host).toBe('127.0.0.1');
    expect(open.notice).toMatch(/authentication is off .* 127\.0\.0\.1 only \(HOST=0\.0\.0\.0 ignored\)/);
    expect(listenAddress(loadConfig({ ...base, HOST: '::1' })).host).toBe('::1');
    expect(listenAddress(loadConfig({ ...base, HOST: '0.0.0.0', KIOSK_AUTH: 'tokens' }))).toEqual({
      host: '0.0.0.0',
    });
  });
});

/** Runs api/server.ts until it prints its URL (then SIGTERM) or exits; returns what it wrote. */
function runServer(env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'api/server.ts')], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/api listening on/.test(out)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe('the API process (spawned)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiosk-auth-srv-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const env = () => ({
    REDIS_URL: inject('redisUrl'),
    KIOSK_PREFIX: `test-${randomUUID()}`,
    KIOSK_BUCKET: join(dir, 'bucket'),
    KIOSK_MODEL_CACHE: join(dir, 'cache'),
  });

  it('local, auth off, HOST=0.0.0.0: listens on 127.0.0.1 and says why', async () => {
    const r = await runServer({ ...env(), HOST: '0.0.0.0' });
    expect(r.out).toMatch(/api listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(r.err).toMatch(/authentication is off \(KIOSK_AUTH=off\): listening on 127\.0\.0\.1 only/);
  });

  it('cloud mode with KIOSK_AUTH=off does not start, and says what to set', async () => {
    const r = await runServer({ ...env(), KIOSK_MODE: 'cloud', KIOSK_AUTH: 'off' });
    expect(r.code).toBe(1);
    expect(r.out).not.toMatch(/listening/);
    expect(r.err).toMatch(/cloud mode refuses to run without authentication.*KIOSK_AUTH=tokens/s);
  });

  it('tokens mode with no token yet starts, warning that every request will be refused', async () => {
    const r = await runServer({ ...env(), KIOSK_MODE: 'cloud', HOST: '127.0.0.1' });
    expect(r.out).toMatch(/api listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(r.err).toMatch(/no token exists yet/);
  });
});

describe('the authentication hook (KIOSK_AUTH=tokens, app.inject)', () => {
  let svc: TestService | undefined;
  afterEach(async () => {
    await svc?.close();
    svc = undefined;
  });
  const start = async () =>
    (svc = await startTestService(inject('redisUrl'), { env: { KIOSK_AUTH: 'tokens' }, pools: false }));

  it('every route but the public ones answers 401 without a token, with the reason and WWW-Authenticate', async () => {
    const s = await start();
    await s.app.ready();
    const spec = s.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const isPublic = (p: string) => ['/v1/health', '/api/health-check', '/metrics'].includes(p);
    let checked = 0;
    for (const [path, methods] of Object.entries(spec.paths)) {
      const url = path
        .replace(/\{\*\}/, 'lab-x/f/a.png')
        .replace(/\{id\}/, '0123456789ab')
        .replace(/\{\w+\}/g, 'x');
      for (const method of Object.keys(methods)) {
        const res = await s.app.inject({ method: method.toUpperCase() as 'GET', url });
        if (isPublic(path)) {
          expect(res.statusCode, `${method} ${path}`).toBe(200);
          continue;
        }
        checked++;
        expect(res.statusCode, `${method} ${path}`).toBe(401);
        expect(res.json()).toMatchObject({
          error: 'unauthorized',
          message: expect.stringMatching(/API token/) as string,
        });
        expect(res.headers['www-authenticate']).toBe('Bearer realm="cellkiosk"');
      }
    }
    expect(checked).toBeGreaterThan(25);
    for (const url of ['/docs', '/docs/json', '/v1/health', '/metrics', '/'])
      expect((await s.app.inject({ url })).statusCode, url).not.toBe(401);
  });

  it('accepts Bearer and X-Api-Key everywhere, ?token= only on GET streams and downloads', async () => {
    const s = await start();
    const { token, info } = await s.services.tokens.create({ lab: 'lab-a', name: 'ci' });
    const who = await s.app.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } });
    expect(who.json()).toEqual({ lab: 'lab-a', role: 'member', auth: 'tokens', tokenId: info.id });
    const key = await s.app.inject({ url: '/v1/jobs', headers: { 'x-api-key': token } });
    expect(key.statusCode).toBe(200);
    // ?token= on a download route: accepted (404: no such job in lab-a); on a JSON route: refused
    const dl = await s.app.inject({ url: `/v1/jobs/${randomUUID()}/result?token=${token}` });
    expect(dl.json()).toMatchObject({ error: 'job-not-found' });
    const listByQuery = await s.app.inject({ url: `/v1/jobs?token=${token}` });
    expect(listByQuery.statusCode).toBe(401);
    expect(listByQuery.json().message).toMatch(/\?token= is accepted only by event streams and downloads/);
    const post = await s.app.inject({
      method: 'POST',
      url: `/api/redis?token=${token}`,
      payload: { hash: 'x', key: 'status' },
    });
    expect(post.statusCode).toBe(401);
    const basic = await s.app.inject({ url: '/v1/jobs', headers: { authorization: 'Basic dTpw' } });
    expect(basic.json().message).toMatch(/must be "Bearer <token>"/);
    const bad = await s.app.inject({ url: '/v1/jobs', headers: { authorization: 'Bearer nope' } });
    expect(bad.json()).toMatchObject({
      error: 'unauthorized',
      message: expect.stringMatching(/malformed/) as string,
    });
    // its use is noted (at most once a minute)
    await new Promise((r) => setTimeout(r, 100));
    const [listed] = await s.services.tokens.list({ lab: 'lab-a' });
    expect(Date.parse(listed!.lastUsedAt!)).toBeGreaterThan(Date.parse(info.createdAt) - 1);
  });

  it('throttles token guessing: after KIOSK_AUTH_FAIL_LIMIT failures an address gets 429 until the window ends', async () => {
    const s = (svc = await startTestService(inject('redisUrl'), {
      env: { KIOSK_AUTH: 'tokens', KIOSK_AUTH_FAIL_LIMIT: '3', KIOSK_RATE_WINDOW_S: '30' },
      pools: false,
    }));
    const { token } = await s.services.tokens.create({ lab: 'lab-a' });
    const guesser = { remoteAddress: '10.0.0.7' };
    const forged = `${token.slice(0, 16)}${'B'.repeat(43)}`;
    for (let i = 0; i < 3; i++) {
      const res = await s.app.inject({ url: '/v1/jobs', headers: { 'x-api-key': forged }, ...guesser });
      expect(res.statusCode).toBe(401);
    }
    // now every guess from that address waits; the failures counted, not the successes, and the right
    // token still passes (issue 18 #10: others behind the same address must not lock a lab out)
    expect(
      (await s.app.inject({ url: '/v1/jobs', headers: { 'x-api-key': token }, ...guesser })).statusCode,
    ).toBe(200);
    const blocked = await s.app.inject({ url: '/v1/jobs', headers: { 'x-api-key': forged }, ...guesser });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().message).toMatch(
      /3 failed authentications from this address in 30 s; retry in \d+ s/,
    );
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(30);
    // another address is not affected, and a missing token is not a failed guess
    const other = { remoteAddress: '10.0.0.8' };
    expect(
      (await s.app.inject({ url: '/v1/jobs', headers: { 'x-api-key': token }, ...other })).statusCode,
    ).toBe(200);
    for (let i = 0; i < 5; i++)
      expect((await s.app.inject({ url: '/v1/jobs', ...other })).statusCode).toBe(401);
    expect(
      (await s.app.inject({ url: '/v1/jobs', headers: { 'x-api-key': token }, ...other })).statusCode,
    ).toBe(200);
  });

  it('a revoked token is refused at once, saying so', async () => {
    const s = await start();
    const { token, info } = await s.services.tokens.create({ lab: 'lab-a' });
    const h = { authorization: `Bearer ${token}` };
    expect((await s.app.inject({ url: '/v1/jobs', headers: h })).statusCode).toBe(200);
    await s.services.tokens.revoke(info.id);
    const res = await s.app.inject({ url: '/v1/jobs', headers: h });
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/was revoked/);
  });

  it("admins manage their own lab's tokens through the API; members get 403; other labs' tokens are 404", async () => {
    const s = await start();
    const admin = {
      authorization: `Bearer ${(await s.services.tokens.create({ lab: 'lab-a', role: 'admin' })).token}`,
    };
    const member = { authorization: `Bearer ${(await s.services.tokens.create({ lab: 'lab-a' })).token}` };
    const otherLab = await s.services.tokens.create({ lab: 'lab-b', role: 'admin' });
    const denied = await s.app.inject({ url: '/v1/tokens', headers: member });
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({
      error: 'forbidden',
      message: expect.stringMatching(/admin/) as string,
    });
    expect(
      (await s.app.inject({ method: 'POST', url: '/v1/tokens', headers: member, payload: {} })).statusCode,
    ).toBe(403);
    const made = await s.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: admin,
      payload: { name: 'robot' },
    });
    expect(made.statusCode).toBe(201);
    const { token, id, lab, role } = made.json() as { token: string; id: string; lab: string; role: string };
    expect({ lab, role }).toEqual({ lab: 'lab-a', role: 'member' });
    expect((await s.app.inject({ url: '/v1/whoami', headers: { 'x-api-key': token } })).json()).toMatchObject(
      { lab: 'lab-a' },
    );
    const list = (await s.app.inject({ url: '/v1/tokens', headers: admin })).json() as {
      tokens: Record<string, unknown>[];
    };
    expect(list.tokens.map((t) => t.lab)).toEqual(['lab-a', 'lab-a', 'lab-a']);
    expect(JSON.stringify(list)).not.toMatch(/sha256|ck_[0-9a-f]{12}_/);
    const foreign = await s.app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${otherLab.info.id}`,
      headers: admin,
    });
    expect(foreign.statusCode).toBe(404);
    expect((await s.services.tokens.verify(otherLab.token)).ok).toBe(true);
    const gone = await s.app.inject({ method: 'DELETE', url: `/v1/tokens/${id}`, headers: admin });
    expect(gone.json()).toMatchObject({ id, revokedAt: expect.any(String) as string });
    expect((await s.app.inject({ url: '/v1/whoami', headers: { 'x-api-key': token } })).statusCode).toBe(401);
  });

  it('the CLI client sends KIOSK_TOKEN to the kiosk only, and says what to set on a 401', async () => {
    svc = await startTestService(inject('redisUrl'), {
      env: { KIOSK_AUTH: 'tokens' },
      pools: false,
      listen: true,
    });
    const { token } = await svc.services.tokens.create({ lab: 'lab-a' });
    await expect(new KioskClient(svc.url, undefined).listJobs()).rejects.toThrow(
      /HTTP 401 unauthorized: this kiosk needs an API token.*\(set KIOSK_TOKEN to a token of your lab\)/,
    );
    expect(await new KioskClient(svc.url, token).listJobs()).toEqual([]);
    // another host (a bucket's signed URL) never sees the token
    const seen: (string | undefined)[] = [];
    const other = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end('ok');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const port = (other.address() as AddressInfo).port;
      await new KioskClient(svc.url, token).download(`http://127.0.0.1:${port}/bucket/x.zip?X-Sig=1`);
      expect(seen).toEqual([undefined]);
    } finally {
      other.close();
    }
  });

  it('with auth off every request is lab KIOSK_LAB with role admin, no token needed', async () => {
    svc = await startTestService(inject('redisUrl'), { env: { KIOSK_LAB: 'solo' }, pools: false });
    expect((await svc.app.inject({ url: '/v1/whoami' })).json()).toEqual({
      lab: 'solo',
      role: 'admin',
      auth: 'off',
    });
    expect((await svc.app.inject({ url: '/v1/jobs' })).statusCode).toBe(200);
  });
});
