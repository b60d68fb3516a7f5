/**
 * Builds the real images offline with podman and checks that they work as the cluster runs them:
 *
 *   node --import tsx test/deploy/images.check.ts [--ref COMMIT] [--no-cache]
 *
 * Not part of `npm test` (minutes, not seconds). Builds the base, the Redis stand-in and the CPU and GPU
 * images (test/deploy/podman.ts; `--ref` builds a commit's tree instead of the working tree, e.g. to see
 * the checks fail on the code before a fix; `--no-cache` a cold build), then runs every container read-only,
 * as the chart's uid, with every capability dropped and /tmp a tmpfs, on the host network (with
 * authentication off the API listens on 127.0.0.1):
 *   - Redis from the stand-in as uid 999, AOF written to its /data volume;
 *   - the CPU image: the API answers /v1/health, serves the web UI at / (not "The web UI is not built
 *     yet"), lists nuclear 1 (built-in) and nuclear 2 (a bucket model in the mounted bucket folder);
 *     the cpu-worker starts;
 *   - the GPU image: the gpu-worker and the trainer start and stay up (no ERR_MODULE_NOT_FOUND);
 *   - one image job on the bucket model runs through all of them (the model copied to the cache under /tmp,
 *     the label TIFF downloaded from the API);
 *   - esbuild's platform binary came from the lockfile in both images (no `downloaded-*` binary).
 * Prints one line per check, the build timings, and exits 1 when a check failed.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NUCLEI_VAL } from '../data.js';
import { freePort } from '../redis.js';
import {
  buildBaseImage,
  buildKioskImages,
  buildRedisImage,
  podmanEnv,
  progress,
  repoRoot,
  type Podman,
} from './podman.js';

const { values } = parseArgs({
  options: { ref: { type: 'string' }, 'no-cache': { type: 'boolean', default: false } },
  strict: true,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const results: { name: string; ok: boolean; detail: string }[] = [];
async function check(name: string, fn: () => Promise<string | void>): Promise<boolean> {
  const t0 = performance.now();
  try {
    const detail = (await fn()) ?? '';
    results.push({ name, ok: true, detail });
    progress(
      `ok    ${name}${detail ? ` (${detail})` : ''} [${((performance.now() - t0) / 1000).toFixed(1)} s]`,
    );
    return true;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    results.push({ name, ok: false, detail });
    progress(`FAIL  ${name}: ${detail}`);
    return false;
  }
}

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** Containers this run started, removed at the end. */
const containers: string[] = [];
const volumes: string[] = [];
const name = `ck-check-${process.pid}`;

/** `podman run -d` the way the chart runs a kiosk container: read-only root, uid 1000, no capabilities. */
async function runDetached(p: Podman, id: string, args: string[]): Promise<string> {
  const cname = `${name}-${id}`;
  containers.push(cname);
  await p.run([
    'run', '-d', '--name', cname, '--pull=never', '--network=host', '--read-only', '--read-only-tmpfs=true',
    '--cap-drop=ALL', '--security-opt=no-new-privileges', ...args,
  ]); // prettier-ignore
  return cname;
}

/** The container's output: podman logs gives its stdout and stderr on its own stdout and stderr. */
function outputBoth(p: Podman, c: string): string {
  const r = spawnSync('podman', [...p.globalArgs, 'logs', c], {
    env: p.env,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

async function running(p: Podman, c: string): Promise<boolean> {
  return (await p.run(['inspect', '--format', '{{.State.Running}}', c])).trim() === 'true';
}

/** Waits until the container's output matches `pattern`; fails early if it exits. */
async function waitForOutput(p: Podman, c: string, pattern: RegExp, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const out = outputBoth(p, c);
    if (pattern.test(out)) return (performance.now() - t0) / 1000;
    if (!(await running(p, c)))
      throw new Error(`${c} exited before ${pattern}; its output:\n${out.slice(-3000)}`);
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`${c}: no ${pattern} within ${timeoutMs / 1000} s; its output:\n${out.slice(-3000)}`);
    await sleep(250);
  }
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const p = podmanEnv();
  progress(`podman state in ${p.stateDir}`);
  const base = await buildBaseImage(p);
  const redisImage = await buildRedisImage(p);
  const opts = { ...(values.ref ? { ref: values.ref } : {}), noCache: values['no-cache'] };
  const seconds: Record<'cpu' | 'gpu', string> = { cpu: 'failed', gpu: 'failed' };
  const tags: Record<'cpu' | 'gpu', string> = { cpu: '', gpu: '' };
  for (const image of ['cpu', 'gpu'] as const)
    await check(`the ${image.toUpperCase()} image builds offline (docker/${image}.Dockerfile)`, async () => {
      const b = (await buildKioskImages(p, { ...opts, only: image }))[image];
      seconds[image] = `${b.seconds} s`;
      tags[image] = b.tag;
      return `${b.tag} in ${b.seconds} s`;
    });
  const cpuImage = tags.cpu;
  const gpuImage = tags.gpu;
  const timings =
    `base ${base.reused ? 'reused' : `${base.seconds} s`}, redis stand-in ${redisImage.reused ? 'reused' : `${redisImage.seconds} s`}, ` +
    `CPU image ${seconds.cpu}, GPU image ${seconds.gpu}` +
    (values['no-cache'] ? ' (--no-cache)' : '');
  progress(`builds: ${timings}`);
  if (!cpuImage && !gpuImage) return report(timings, t0);

  const bucket = mkdtempSync(join(p.stateDir, 'tmp', 'bucket-'));
  try {
    // ---- the images themselves
    for (const [label, image] of [
      ['CPU', cpuImage],
      ['GPU', gpuImage],
    ] as const)
      if (image)
        await check(`${label} image: esbuild's platform binary installed from the lockfile`, async () => {
          const script =
            "const p=require('path'),fs=require('fs');const lib=p.dirname(require.resolve('esbuild'));" +
            "const pkg='@esbuild/'+process.platform+'-'+process.arch;" +
            'let found=true;try{require.resolve(pkg+"/package.json",{paths:[lib]})}catch{found=false}' +
            "console.log(JSON.stringify({pkg,found,downloaded:fs.readdirSync(lib).filter(f=>f.startsWith('downloaded-'))}))";
          const r = JSON.parse(
            await p.run([
              'run',
              '--rm',
              '--pull=never',
              '--network=none',
              '--read-only',
              '--user=1000',
              '--entrypoint=node',
              image,
              '-e',
              script,
            ]),
          ) as { pkg: string; found: boolean; downloaded: string[] };
          assert(r.found, `${r.pkg} is not installed (esbuild's postinstall had to fetch its binary)`);
          assert(r.downloaded.length === 0, `esbuild fetched its binary itself: ${r.downloaded.join(', ')}`);
          return r.pkg;
        });

    // ---- Redis, as the chart runs it (its command and args; uid 999; AOF on /data)
    const redisPort = await freePort();
    const password = randomBytes(12).toString('hex');
    const redisUrl = `redis://:${password}@127.0.0.1:${redisPort}`;
    const redisVolume = `${name}-redis-data`;
    volumes.push(redisVolume);
    const redisOk = await check(
      "Redis stand-in runs the chart's command as uid 999 with AOF on its /data volume",
      async () => {
        const c = await runDetached(p, 'redis', [
        '--user=999:999', '-v', `${redisVolume}:/data`, redisImage.tag,
        'redis-server', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', '/data',
        '--maxmemory-policy', 'noeviction', '--requirepass', password, '--port', String(redisPort), '--bind', '127.0.0.1',
      ]); // prettier-ignore
        await waitForOutput(p, c, /Ready to accept connections/, 20_000);
        const uid = (await p.run(['exec', c, 'id', '-u'])).trim();
        assert(uid === '999', `runs as uid ${uid}`);
        const data = await p.run(['exec', c, 'ls', '/data']);
        assert(/appendonly/.test(data), `no AOF in /data: ${data}`);
        return `port ${redisPort}, /data: ${data.trim().split('\n').join(' ')}`;
      },
    );
    if (!redisOk) return report(timings, t0);

    // ---- a bucket folder with a second version of the model (loaded through the model cache)
    cpSync(join(repoRoot, 'models', 'nuclear', '1'), join(bucket, 'models', 'nuclear', '2'), {
      recursive: true,
    });
    const cardPath = join(bucket, 'models', 'nuclear', '2', 'card.json');
    writeFileSync(
      cardPath,
      JSON.stringify({ ...JSON.parse(readFileSync(cardPath, 'utf8')), version: 2 }, null, 2),
    );
    const chownAll = (dir: string) => {
      chownSync(dir, 1000, 1000);
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const f = join(dir, e.name);
        if (e.isDirectory()) chownAll(f);
        else chownSync(f, 1000, 1000);
      }
    };
    chownAll(bucket);
    const prefix = `check${process.pid}`;
    const env = [
      '--user=1000:1000', '-e', `REDIS_URL=${redisUrl}`, '-e', 'KIOSK_BUCKET=/bucket', '-e', `KIOSK_PREFIX=${prefix}`,
      '-v', `${bucket}:/bucket`,
    ]; // prettier-ignore

    // ---- the CPU image: API (its default command) and the cpu-worker
    const apiPort = await freePort();
    const api = `http://127.0.0.1:${apiPort}`;
    let apiContainer = '';
    const apiOk = await check(
      'CPU image: the API (default command) answers /v1/health, read-only as uid 1000',
      async () => {
        assert(cpuImage, 'no CPU image (its build failed)');
        apiContainer = await runDetached(p, 'api', [...env, '-e', `PORT=${apiPort}`, cpuImage]);
        const t = performance.now();
        for (;;) {
          const r = await fetch(`${api}/v1/health`).catch(() => undefined);
          if (r?.ok) break;
          if (!(await running(p, apiContainer)))
            throw new Error(`the API exited:\n${outputBoth(p, apiContainer).slice(-3000)}`);
          if (performance.now() - t > 90_000) throw new Error('no /v1/health answer within 90 s');
          await sleep(250);
        }
        const uid = (await p.run(['exec', apiContainer, 'id', '-u'])).trim();
        assert(uid === '1000', `runs as uid ${uid}`);
        const ro = (
          await p.run(['inspect', '--format', '{{.HostConfig.ReadonlyRootfs}}', apiContainer])
        ).trim();
        assert(ro === 'true', `root file system read-only: ${ro}`);
        return `healthy ${((performance.now() - t) / 1000).toFixed(1)} s after start`;
      },
    );
    if (apiOk) {
      await check('CPU image: GET / serves the built web UI', async () => {
        const r = await fetch(`${api}/`);
        const html = await r.text();
        assert(r.ok, `GET / → ${r.status}`);
        assert(!/not built yet/.test(html), 'GET / says "The web UI is not built yet"');
        const script = /<script[^>]+src="\/?([^"]+\.js)"/.exec(html)?.[1];
        assert(script, `no script in the page: ${html.slice(0, 300)}`);
        const js = await fetch(`${api}/${script}`);
        const bytes = (await js.arrayBuffer()).byteLength;
        assert(js.ok && bytes > 10_000, `GET /${script} → ${js.status}, ${bytes} bytes`);
        return `/${script} ${(bytes / 1024).toFixed(0)} KiB`;
      });
      await check(
        'CPU image: GET /v1/models lists nuclear 1 (built-in, in the image) and 2 (the bucket)',
        async () => {
          const r = (await (await fetch(`${api}/v1/models`)).json()) as {
            models: { name: string; version: string; source: string }[];
          };
          const seen = r.models.map((m) => `${m.name}@${m.version}:${m.source}`);
          assert(seen.includes('nuclear@1:builtin'), `no built-in nuclear 1 in ${JSON.stringify(seen)}`);
          assert(seen.includes('nuclear@2:bucket'), `no bucket nuclear 2 in ${JSON.stringify(seen)}`);
          return seen.join(', ');
        },
      );
    }
    let cpuWorker = '';
    await check('CPU image: start --role=cpu-worker starts', async () => {
      assert(cpuImage, 'no CPU image (its build failed)');
      cpuWorker = await runDetached(p, 'cpu-worker', [...env, cpuImage, 'start', '--role=cpu-worker']);
      return `ready in ${(await waitForOutput(p, cpuWorker, /worker cpu ready/, 90_000)).toFixed(1)} s`;
    });

    // ---- the GPU image: gpu-worker (its default command) and trainer
    let gpuWorker = '';
    await check('GPU image: the gpu-worker (default command) starts, read-only as uid 1000', async () => {
      assert(gpuImage, 'no GPU image (its build failed)');
      gpuWorker = await runDetached(p, 'gpu-worker', [...env, gpuImage]);
      const s = await waitForOutput(p, gpuWorker, /worker gpu ready/, 90_000);
      const uid = (await p.run(['exec', gpuWorker, 'id', '-u'])).trim();
      assert(uid === '1000', `runs as uid ${uid}`);
      return `ready in ${s.toFixed(1)} s`;
    });
    let trainer = '';
    await check('GPU image: start --role=trainer starts', async () => {
      assert(gpuImage, 'no GPU image (its build failed)');
      trainer = await runDetached(p, 'trainer', [...env, gpuImage, 'start', '--role=trainer']);
      return `ready in ${(await waitForOutput(p, trainer, /worker train ready/, 90_000)).toFixed(1)} s`;
    });

    // ---- one job through all of them, on the bucket model (fetched into the model cache under /tmp)
    if (apiOk && cpuWorker && gpuWorker) {
      await check(
        'a job on nuclear 2 (bucket) runs through the CPU and GPU images; its label TIFF downloads',
        async () => {
          const file = readdirSync(NUCLEI_VAL).find((f) => f.endsWith('.image.png'));
          assert(file, `no *.image.png in ${NUCLEI_VAL}`);
          const form = new FormData();
          form.append('file', new Blob([readFileSync(join(NUCLEI_VAL, file))], { type: 'image/png' }), file);
          form.append('model', 'nuclear');
          form.append('modelVersion', '2');
          form.append('options', JSON.stringify({ micronsPerPixel: 0.65 }));
          const t = performance.now();
          const created = await fetch(`${api}/v1/jobs/upload`, { method: 'POST', body: form });
          const job = (await created.json()) as { id: string };
          assert(created.status === 201, `POST /v1/jobs/upload → ${created.status}: ${JSON.stringify(job)}`);
          let view: { status: string; labelsUrl?: string; reason?: string; error?: string } = {
            status: 'new',
          };
          while (!['done', 'failed'].includes(view.status)) {
            if (performance.now() - t > 180_000) throw new Error(`job still ${view.status} after 180 s`);
            await sleep(500);
            view = (await (await fetch(`${api}/v1/jobs/${job.id}`)).json()) as typeof view;
          }
          assert(view.status === 'done', `job failed: ${JSON.stringify(view)}`);
          assert(view.labelsUrl, 'done, but no labelsUrl');
          const tiff = new Uint8Array(await (await fetch(new URL(view.labelsUrl, api))).arrayBuffer());
          const magic = Buffer.from(tiff.subarray(0, 4)).toString('latin1');
          assert(magic === 'II*\0' || magic === 'MM\0*', `labels are not a TIFF (${tiff.byteLength} bytes)`);
          const cached = await p.run([
            'exec',
            gpuWorker,
            'sh',
            '-c',
            'ls -R /tmp/kiosk-model-cache | head -20',
          ]);
          assert(/model\.(onnx|json)/.test(cached), `no model in the gpu-worker's cache: ${cached}`);
          return `${file}: done in ${((performance.now() - t) / 1000).toFixed(1)} s, ${tiff.byteLength}-byte TIFF; model cached in /tmp/kiosk-model-cache`;
        },
      );
    }

    await check(
      'every container is still up, and none logged a missing module or a read-only write',
      async () => {
        await sleep(3000);
        const down: string[] = [];
        for (const c of containers) {
          const out = outputBoth(p, c);
          if (!(await running(p, c))) down.push(`${c} exited:\n${out.slice(-1500)}`);
          const bad = /ERR_MODULE_NOT_FOUND|EROFS|read-only file system/i.exec(out);
          if (bad)
            down.push(`${c} logged ${bad[0]}:\n${out.slice(Math.max(0, bad.index - 600), bad.index + 600)}`);
        }
        assert(down.length === 0, down.join('\n'));
        return `${containers.length} containers`;
      },
    );
  } finally {
    for (const c of containers) await p.run(['rm', '-f', '-t', '5', c]).catch(() => undefined);
    for (const v of volumes) await p.run(['volume', 'rm', '-f', v]).catch(() => undefined);
    rmSync(bucket, { recursive: true, force: true });
  }
  return report(timings, t0);
}

function report(timings: string, t0: number): number {
  const failed = results.filter((r) => !r.ok);
  process.stdout.write(
    `\nimages check: ${results.length - failed.length}/${results.length} checks passed in ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s; builds: ${timings}\n` +
      failed.map((f) => `  FAILED ${f.name}: ${f.detail.split('\n')[0]}\n`).join(''),
  );
  return failed.length === 0 ? 0 : 1;
}

if (!existsSync(NUCLEI_VAL)) progress(`note: ${NUCLEI_VAL} is missing: the job check will fail`);
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`images check: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
