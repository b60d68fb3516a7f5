import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { zipSync } from 'fflate';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../workers/image/decode.js';
import { freePort } from '../../test/redis.js';
import { NUCLEI_VAL } from '../../test/data.js';

const KIOSK = resolve('bin/kiosk.mjs');
const VAL = NUCLEI_VAL;
const STEMS = [
  'dsb_03398329ced0c23b',
  'dsb_077f026f4ab0f0bc',
  'dsb_0acd2c223d300ea5',
  'dsb_12f89395ad5d2149',
];

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function kiosk(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [KIOSK, ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function waitFor(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(
      () => rej(new Error(`no ${pattern} within ${timeoutMs} ms; output: ${out}`)),
      timeoutMs,
    );
    const on = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1] ?? m[0]);
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => rej(new Error(`exited ${code} before ${pattern}; output: ${out}`)));
  });
}

describe('the local kiosk (kiosk start) and the HTTP CLI', () => {
  it('starts Redis (AOF), API and workers as processes, serves predict/jobs/status, and stops cleanly on Ctrl-C', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'kiosk-local-'));
    dirs.push(cwd);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      KIOSK_TRIVIAL_MODEL: '1',
      KIOSK_DEFAULT_MODEL: 'trivial',
    };
    delete env.REDIS_URL;
    const start = spawn(process.execPath, [KIOSK, 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => start.once('exit', (code) => r(code)));
    try {
      const url = await waitFor(start, /cellkiosk is running at (\S+)/, 120_000);
      expect(url).toBe(`http://127.0.0.1:${port}`);
      expect(existsSync(join(cwd, '.kiosk', 'redis', 'appendonlydir'))).toBe(true);
      // predict: two images, a folder, a zip of two
      const input = join(cwd, 'in');
      await mkdir(input, { recursive: true });
      for (const s of STEMS.slice(0, 2))
        await writeFile(join(input, `${s}.png`), await readFile(join(VAL, `${s}.image.png`)));
      const zip: Record<string, Uint8Array> = {};
      for (const s of STEMS.slice(2)) zip[`${s}.png`] = await readFile(join(VAL, `${s}.image.png`));
      await writeFile(join(cwd, 'more.zip'), zipSync(zip));
      const p = kiosk(['predict', 'in', 'more.zip', '--host', url, '--out', 'labels'], cwd);
      expect(p.code, p.err).toBe(0);
      expect(p.err).toMatch(/\[#+\] 100% {2}3\/3 done/);
      const written = (await readdir(join(cwd, 'labels'))).sort();
      expect(written).toEqual(STEMS.map((s) => `${s}.labels.tif`).sort());
      const labels = decodeImage(await readFile(join(cwd, 'labels', written[0]!)), { name: 'x' });
      expect(labels.shape).toEqual([256, 256]);
      // jobs and status
      const jobs = kiosk(['jobs', '--host', url], cwd);
      expect(jobs.code, jobs.err).toBe(0);
      expect(jobs.out).toMatch(/more\.zip \[batch\]/);
      const id = /^([0-9a-f-]{36})\s+done/m.exec(jobs.out)![1]!;
      const status = kiosk(['status', id, '--host', url], cwd);
      expect(status.code, status.err).toBe(0);
      expect(status.out).toMatch(/status {4}done \(100%\)/);
      // a bad file: reported by name, exit code 1
      await writeFile(join(cwd, 'notes.png'), 'not an image');
      const bad = kiosk(['predict', 'notes.png', '--host', url, '--out', 'labels'], cwd);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/notes\.png: HTTP 400 not-an-image: notes\.png is not a TIFF or PNG image/);
    } finally {
      start.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    const left = spawnSync('pgrep', ['-f', `${cwd}/.kiosk`], { encoding: 'utf8' }).stdout.trim();
    expect(left).toBe(''); // redis-server (and everything else) stopped
  });

  it('explains how to install redis-server when it is missing', () => {
    const r = kiosk(['start'], tmpdir(), { PATH: '/nonexistent', REDIS_URL: '' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /redis-server is not installed\. Install it with:\n\s+sudo apt-get install -y redis-server/,
    );
  });

  it('says when the kiosk cannot be reached, and checks its flags', async () => {
    const port = await freePort();
    const r = kiosk(['jobs', '--host', `http://127.0.0.1:${port}`], tmpdir());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot reach the kiosk at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    const u = kiosk(['predict', 'x.png'], tmpdir());
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/--out DIR is required/);
  });
});
