/**
 * The worker entry as a process (`workers/main.ts --pool cpu|gpu`, trivial model) on the private test Redis:
 * a SIGTERM that arrives while it is still starting stops it cleanly (exit 0) instead of killing it, and a
 * bad --pool or KIOSK_METRICS_SHARE fails at once with the reason.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../test/redis.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function worker(args: string[], env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'kiosk-worker-'));
  dirs.push(dir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', ...args], {
    env: {
      ...process.env,
      REDIS_URL: inject('redisUrl'),
      KIOSK_PREFIX: `test-${randomUUID()}`,
      KIOSK_BUCKET: join(dir, 'bucket'),
      KIOSK_MODEL_CACHE: join(dir, 'cache'),
      KIOSK_TRIVIAL_MODEL: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, exit, output: () => out };
}

describe('workers/main.ts', () => {
  it('a SIGTERM during start-up stops the worker cleanly, not by the default kill', async () => {
    for (const pool of ['cpu', 'gpu']) {
      const w = await worker(['--pool', pool]);
      await expect
        .poll(() => w.output(), { timeout: 60_000, interval: 20 })
        .toMatch(new RegExp(`worker ${pool}: starting`));
      w.child.kill('SIGTERM'); // before `worker <pool> ready`, while it connects and starts its queues
      expect(await w.exit, w.output()).toEqual({ code: 0, signal: null });
      expect(w.output()).toMatch(new RegExp(`worker ${pool}: SIGTERM: finishing running jobs`));
      expect(w.output()).not.toMatch(/ready/); // it was stopped while starting
    }
  }, 120_000);

  it('issue 18 #3: a second signal ends the worker within seconds even when its Redis is frozen', async () => {
    // Its own redis-server (the suite's shared one must not be frozen), stopped with SIGSTOP: connected, silent.
    const port = await freePort();
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', ''], {
      stdio: 'ignore',
    });
    try {
      const w = await worker(['--pool', 'cpu'], { REDIS_URL: `redis://127.0.0.1:${port}` });
      try {
        await expect.poll(() => w.output(), { timeout: 60_000, interval: 20 }).toMatch(/worker cpu ready/);
        redis.kill('SIGSTOP');
        const t0 = Date.now();
        w.child.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 300));
        w.child.kill('SIGINT');
        const end = await Promise.race([
          w.exit,
          new Promise((r) => setTimeout(() => r('still running'), 20_000)),
        ]);
        console.log(
          `worker with Redis frozen: ${typeof end === 'string' ? end : 'exited'} ${((Date.now() - t0) / 1000).toFixed(1)} s after SIGTERM`,
        );
        expect(end, w.output()).toEqual({ code: 1, signal: null });
        expect(w.output()).toMatch(
          /running jobs not returned to the queue within 10 s \(Redis away\?\): exiting/,
        );
      } finally {
        w.child.kill('SIGKILL');
      }
    } finally {
      redis.kill('SIGKILL');
    }
  }, 90_000);

  it('refuses a bad --pool or KIOSK_METRICS_SHARE with the reason', async () => {
    const pool = await worker(['--pool', 'tpu']);
    expect((await pool.exit).code).toBe(1);
    expect(pool.output()).toMatch(/--pool must be cpu or gpu; got "tpu"/);
    const share = await worker(['--pool', 'cpu'], { KIOSK_METRICS_SHARE: 'statsd' });
    expect((await share.exit).code).toBe(1);
    expect(share.output()).toMatch(/KIOSK_METRICS_SHARE must be redis or unset; got "statsd"/);
  }, 60_000);
});
