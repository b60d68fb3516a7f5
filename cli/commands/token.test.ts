import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runKiosk as runCli } from '../run-kiosk.test-helpers.js';
import { TokenStore } from '../../core/tokens.js';

/** `kiosk token ARGS` with only `env` (and PATH) in its environment. */
const runKiosk = (args: string[], env: Record<string, string>, cwd?: string) =>
  runCli(['token', ...args], { env, ...(cwd ? { cwd } : {}) });

describe('kiosk token (the real CLI, spawned, on a real Redis)', () => {
  const prefix = `test-${randomUUID()}`;
  let redis: Redis;
  let dir: string;
  const env = () => ({ REDIS_URL: inject('redisUrl'), KIOSK_PREFIX: prefix });
  beforeAll(async () => {
    redis = new Redis(inject('redisUrl'));
    dir = await mkdtemp(join(tmpdir(), 'kiosk-token-cli-'));
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  it('create prints the token once; list shows it without secrets; revoke stops it', async () => {
    const made = await runKiosk(['create', '--lab', 'lab-a', '--role', 'admin', '--name', 'alice'], env());
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^ck_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const id = token.slice(3, 15);
    expect(made.stderr).toMatch(
      new RegExp(`token ${id} for lab lab-a \\(admin, alice\\)\\. It is shown only now`),
    );
    const store = new TokenStore(redis, prefix);
    expect(await store.verify(token)).toMatchObject({ ok: true, token: { id, lab: 'lab-a', role: 'admin' } });
    // stored hashed: the hash, not the token, is in Redis
    const record = await redis.hgetall(`${prefix}:token:${id}`);
    expect(record.sha256).toBe(createHash('sha256').update(token).digest('hex'));
    expect(JSON.stringify(record)).not.toContain(token.slice(16));

    const other = await runKiosk(['create', '--lab', 'lab-b', '--json'], env());
    const b = JSON.parse(other.stdout) as { id: string; token: string; lab: string; role: string };
    expect(b).toMatchObject({ lab: 'lab-b', role: 'member' });

    const list = await runKiosk(['list'], env());
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+LAB\s+ROLE\s+CREATED\s+LAST USED\s+REVOKED\s+NAME$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      [id, 'lab-a', 'admin'],
      [b.id, 'lab-b', 'member'],
    ]);
    expect(list.stdout).not.toContain(token.slice(16));
    expect(list.stdout).not.toContain(b.token.slice(16));
    const onlyB = JSON.parse((await runKiosk(['list', '--lab', 'lab-b', '--json'], env())).stdout) as {
      id: string;
    }[];
    expect(onlyB.map((t) => t.id)).toEqual([b.id]);

    const revoked = await runKiosk(['revoke', id.slice(0, 6)], env());
    expect(revoked.stdout).toBe(`revoked token ${id} (lab lab-a, admin, alice)\n`);
    expect(await store.verify(token)).toMatchObject({ ok: false, reason: expect.stringMatching(/revoked/) });
    expect((await runKiosk(['list'], env())).stdout).not.toContain(id);
    expect((await runKiosk(['list', '--all'], env())).stdout).toMatch(
      new RegExp(`${id}\\s+lab-a\\s+admin.*20\\d\\d-`),
    );
    const again = await runKiosk(['revoke', id], env());
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`no active token ${id}`));
  });

  it('usage mistakes exit 2 with the reason and the usage', async () => {
    for (const [args, why] of [
      [['create'], /--lab LAB is required/],
      [['create', '--lab', 'a b'], /lab must be 1-64/],
      [['create', '--lab', 'a', '--role', 'root'], /--role must be member or admin/],
      [['revoke'], /give one token id/],
      [['rotate'], /unknown sub-command 'rotate'/],
      [[], /give a sub-command/],
    ] as const) {
      const r = await runKiosk([...args], env());
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/Usage: kiosk token create/);
    }
  });

  it("without REDIS_URL: uses a running local kiosk's Redis (.kiosk/redis.url)", async () => {
    const cwd = join(dir, 'running');
    await mkdir(join(cwd, '.kiosk'), { recursive: true });
    await writeFile(join(cwd, '.kiosk', 'redis.url'), `${inject('redisUrl')}\n`);
    const r = await runKiosk(['create', '--lab', 'lab-local'], { KIOSK_PREFIX: prefix }, cwd);
    expect(r.code, r.stderr).toBe(0);
    const store = new TokenStore(redis, prefix);
    expect((await store.verify(r.stdout.trim())).ok).toBe(true);
    expect(existsSync(join(cwd, '.kiosk', 'redis'))).toBe(false); // no redis-server of its own
  });

  it('without REDIS_URL and no kiosk running: starts redis-server on .kiosk/redis for the command; the token persists', async () => {
    const cwd = join(dir, 'stopped');
    await mkdir(cwd, { recursive: true });
    const made = await runKiosk(['create', '--lab', 'lab-offline'], {}, cwd);
    expect(made.code, made.stderr).toBe(0);
    expect(existsSync(join(cwd, '.kiosk', 'redis'))).toBe(true);
    const listed = await runKiosk(['list', '--json'], {}, cwd); // a second redis-server, on the same data
    const tokens = JSON.parse(listed.stdout) as { id: string; lab: string }[];
    expect(tokens).toEqual([
      expect.objectContaining({ id: made.stdout.trim().slice(3, 15), lab: 'lab-offline' }),
    ]);
  });
});
