/**
 * Issue 18 #1: what a zip bomb costs the API process. Starts a private redis-server and the API
 * (`api/server.ts`, default limits, local folder bucket in a temp dir; no workers: jobs only queue) and sends:
 *
 * A. the issue's bomb: 3 entries × 1300 MiB of zeros (4 MB, ratio ~1011, 3.9 GiB in all: inside the old
 *    limits, which accepted it after 49 s and 4.2 GB of API memory) → expect a refusal from the central
 *    directory (KIOSK_MAX_ZIP_ENTRY_MB);
 * B. the largest bomb the limits accept: `--entries` (default 8) × `--mib` (default 500) MiB of zeros, under
 *    KIOSK_MAX_ZIP_ENTRY_MB (512) and KIOSK_MAX_ZIP_MB (4096) → unpacked streaming into the bucket.
 *
 * C. `--honest` (default 4) honest zips of `--honest-mb` (default 400) MB each (two stored entries of random
 *    bytes), uploaded first, then one job per zip created all at once (the issue's "four 500 MB files at once").
 *
 * For each: the answer and its time, the API's peak RSS (VmHWM of /proc/<pid>/status, reset before each case
 * through /proc/<pid>/clear_refs) and the slowest GET /v1/health answer while the request ran (polled every
 * 100 ms). `npm run bench zip-bomb [-- --entries 4 --mib 256 --honest 2 --honest-mb 100 --cases AC]`.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { zipSync } from 'fflate';
import { zipBomb } from '../api/zip-bomb.test-helpers.js';
import { freePort, startPrivateRedis } from '../test/redis.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '8' },
    mib: { type: 'string', default: '500' },
    honest: { type: 'string', default: '4' },
    'honest-mb': { type: 'string', default: '400' },
    cases: { type: 'string', default: 'ABC' },
  },
});

const MB = 1e6;
const redis = await startPrivateRedis();
const dir = await mkdtemp(join(tmpdir(), 'kiosk-zip-bomb-'));
const port = await freePort();
const api = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), resolve('api/server.ts')], {
  env: {
    ...process.env,
    REDIS_URL: redis.url,
    KIOSK_BUCKET: join(dir, 'bucket'),
    KIOSK_PREFIX: 'zipbomb',
    KIOSK_AUTH: 'off',
    KIOSK_SWEEP_INTERVAL_S: '0',
    PORT: String(port),
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const base = await new Promise<string>((res, rej) => {
  let out = '';
  api.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /api listening on (\S+)/.exec(out);
    if (m) res(m[1]!);
  });
  api.once('exit', (c) => rej(new Error(`api exited ${c}`)));
});

const status = async (field: string) => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    await readFile(`/proc/${api.pid}/status`, 'utf8'),
  );
  return Number(m![1]) * 1024;
};

async function upload(zip: Uint8Array): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(zip)]), 'bomb.zip');
  const up = (await (await fetch(`${base}/v1/uploads`, { method: 'POST', body: form })).json()) as {
    uploads: { key: string }[];
  };
  return up.uploads[0]!.key;
}

/** Uploads `zips`, then creates one job per zip, all at once, measuring the API while they are created. */
async function attack(label: string, zips: Uint8Array[]): Promise<void> {
  const keys = [];
  for (const z of zips) keys.push(await upload(z));
  await writeFile(`/proc/${api.pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
  const rssBefore = await status('VmRSS');
  let done = false;
  let slowestHealth = 0;
  const poll = (async () => {
    while (!done) {
      const t = performance.now();
      await fetch(`${base}/v1/health`).then((r) => r.arrayBuffer());
      slowestHealth = Math.max(slowestHealth, performance.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const t0 = performance.now();
  const answers = await Promise.all(
    keys.map(async (key) => {
      const res = await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [key] }),
      });
      const body = (await res.json()) as { error?: string; message?: string; children?: unknown[] };
      return `${res.status} ${res.status === 201 ? `${body.children?.length} children` : `${body.error}: ${body.message}`}`;
    }),
  );
  const s = (performance.now() - t0) / 1000;
  done = true;
  await poll;
  const peak = await status('VmHWM');
  const size = zips.reduce((n, z) => n + z.length, 0);
  console.log(`${label}: ${zips.length} zip(s), ${(size / MB).toFixed(1)} MB`);
  console.log(`  answered in ${s.toFixed(2)} s — ${[...new Set(answers)].join('; ')}`);
  console.log(
    `  API RSS before ${(rssBefore / MB).toFixed(0)} MB, peak during ${(peak / MB).toFixed(0)} MB; ` +
      `slowest /v1/health ${slowestHealth.toFixed(0)} ms`,
  );
}

/** A zip of two stored entries of random bytes, `mb` MB in all. */
function honestZip(mb: number): Uint8Array {
  const half = randomFillSync(new Uint8Array(Math.round((mb * MB) / 2)));
  return zipSync({ 'a.tif': half, 'b.tif': half }, { level: 0 });
}

try {
  const run = (c: string) => values.cases.includes(c);
  if (run('A')) await attack('A. the issue 18 bomb, 3 × 1300 MiB (3.9 GiB)', [zipBomb(3, 1300)]);
  const n = Number(values.entries);
  const mib = Number(values.mib);
  if (run('B')) await attack(`B. the largest accepted, ${n} × ${mib} MiB`, [zipBomb(n, mib)]);
  const honest = run('C') ? honestZip(Number(values['honest-mb'])) : new Uint8Array(0);
  if (run('C'))
    await attack(
      `C. honest zips at once, ${values.honest} × ${values['honest-mb']} MB`,
      Array.from({ length: Number(values.honest) }, () => honest),
    );
} finally {
  api.kill('SIGTERM');
  await new Promise((r) => api.once('exit', r));
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
