/**
 * The training worker entry as a process (`workers/training/main.ts`) on the private test Redis: a SIGTERM
 * while it starts, or right after `worker train ready`, stops it cleanly (exit 0), never by the default
 * action (CI once saw exit by signal when the handler went in after `ready` was printed).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function trainer() {
  const dir = await mkdtemp(join(tmpdir(), 'kiosk-trainer-'));
  dirs.push(dir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/training/main.ts'], {
    env: {
      ...process.env,
      REDIS_URL: inject('redisUrl'),
      KIOSK_PREFIX: `test-${randomUUID()}`,
      KIOSK_BUCKET: join(dir, 'bucket'),
      KIOSK_MODEL_CACHE: join(dir, 'cache'),
      KIOSK_TRAIN_SCRATCH: join(dir, 'scratch'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const onData = (d: Buffer) => (out += d.toString());
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exit = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, exit, output: () => out };
}

describe('workers/training/main.ts', () => {
  it('a SIGTERM during start-up stops the trainer cleanly (exit 0, never ready)', async () => {
    const t = await trainer();
    await expect.poll(() => t.output(), { timeout: 60_000, interval: 10 }).toMatch(/worker train: starting/);
    t.child.kill('SIGTERM');
    expect(await t.exit, t.output()).toEqual({ code: 0, signal: null });
    expect(t.output()).toMatch(/worker train: SIGTERM: returning the running job/);
    expect(t.output()).not.toMatch(/ready/);
  }, 90_000);

  it('a SIGTERM the moment `worker train ready` is read stops it cleanly', async () => {
    const t = await trainer();
    // Sent from inside the data callback that first sees the line, as the image-layout test does.
    t.child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('worker train ready')) t.child.kill('SIGTERM');
    });
    expect(await t.exit, t.output()).toEqual({ code: 0, signal: null });
    expect(t.output()).toMatch(/worker train ready/);
  }, 90_000);
});
