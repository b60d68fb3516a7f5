/**
 * The fault suite (`npm run test:faults`; docs/faults.md): the kiosk as real processes — a private
 * redis-server with AOF, the API, two CPU workers and the inference worker — takes a batch of single
 * images and zips through the HTTP API while it is hurt:
 *  1. kill -9 of a CPU worker with jobs running (the supervisor restarts it);
 *  2. kill -9 of the inference worker with jobs running (restarted);
 *  3. kill -9 of Redis, restarted on the same AOF a moment later (nothing acknowledged may be lost);
 *  4. bucket writes of every worker fail transiently (workers/storage/flaky.ts, 5 % of writes);
 *  5. with the real shipped model: a job that kills its CPU worker at each start (BullMQ's stall limit);
 *  6. with the real shipped model: a model version removed from the bucket while jobs reference it.
 * Then every accepted job must be done exactly once (one result, the right labels) or failed with a reason,
 * and the summary line `faults: N jobs, 0 lost, 0 duplicated, 0 failed without reason` is printed. Every
 * process's bucket calls stay within its role's grants (constructs/roles.ts): none is refused.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { KioskClient, KioskClientError } from '../../api/client.js';
import type { JobView } from '../../api/schemas.js';
import { decodeImage } from '../../workers/image/decode.js';
import { labelsFromRaw } from '../../workers/image/files.js';
import { scoreImage } from '../../workers/image/metrics.js';
import type { Labels } from '../../workers/image/types.js';
import { encodePng } from '../../workers/image/png.js';
import { packZip } from '../../workers/image/zip.js';
import { connectRedis } from '../../workers/queues/connection.js';
import { NUCLEI_VAL } from '../data.js';
import { audit, waitAllFinal, type Expectation } from './audit.js';
import { makeFaultImages, valStems, type FaultImage } from './images.js';
import { KioskProcesses, type Managed } from './processes.js';

const PREFIX = 'faults';
const LAB = 'default';
/** Single-image jobs (good inputs), zips (of ZIP_SIZE images each) and truncated files. */
const SINGLES = 260;
const ZIPS = 3;
const ZIP_SIZE = 10;
const BAD = 4;
const WRITE_FAIL_RATE = '0.05';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stdout.write(`faults: ${msg}\n`);

/** A client call retried while the kiosk answers 5xx or cannot be reached (what any client does). */
async function retrying<T>(counter: { retries: number }, fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const transient = err instanceof KioskClientError && (err.status === undefined || err.status >= 500);
      if (!transient || i >= 40) throw err;
      counter.retries++;
      await sleep(250);
    }
  }
}

it('every accepted job ends done exactly once or failed with a reason, whatever fails', async () => {
  const t0 = Date.now();
  const images = await makeFaultImages(SINGLES + ZIPS * ZIP_SIZE, BAD);
  const dir = await mkdtemp(join(tmpdir(), 'kiosk-faults-'));
  const bucket = join(dir, 'bucket');
  const good = images.filter((i) => i.expected);
  const bad = images.filter((i) => !i.expected);
  let k: KioskProcesses | undefined;
  /** The suite's own Redis connections, closed at the end whatever happens. */
  const connections: { disconnect(): void }[] = [];
  try {
    k = await KioskProcesses.start({
      dir,
      cpuWorkers: 2,
      env: {
        KIOSK_PREFIX: PREFIX,
        KIOSK_BUCKET: bucket,
        KIOSK_LAB: LAB,
        KIOSK_MODE: 'local',
        KIOSK_AUTH: 'off',
        KIOSK_MODEL_CACHE: join(dir, 'model-cache'),
        KIOSK_TRIVIAL_MODEL: '1',
        KIOSK_DEFAULT_MODEL: 'trivial',
        KIOSK_ATTEMPTS: '6',
        KIOSK_BACKOFF_MS: '200',
        // a killed worker's jobs go back to the queue within ~12 s instead of ~90 s
        KIOSK_LOCK_MS: '8000',
        KIOSK_STALLED_INTERVAL_MS: '4000',
        KIOSK_ONNX_THREADS: '1',
        KIOSK_RUNTIME: 'onnx',
      },
      workerEnv: (name) => ({
        KIOSK_FAULT_STORAGE_WRITE_FAIL_RATE: WRITE_FAIL_RATE,
        KIOSK_FAULT_SEED: String([...name].reduce((a, c) => a * 31 + c.charCodeAt(0), 7) >>> 0),
      }),
    });
    const kiosk = k;
    log(
      `kiosk up in ${((Date.now() - t0) / 1000).toFixed(1)} s (redis ${kiosk.redis.url}, api ${kiosk.url})`,
    );
    const client = new KioskClient(kiosk.url);

    // Final events per job, from the job-event channel (a job that finishes twice would show twice).
    const finalEvents = new Map<string, number>();
    const events = connectRedis(kiosk.redis.url).on('error', () => undefined); // reconnects by itself
    connections.push(events);
    await events.subscribe(`${PREFIX}:job-events`);
    events.on('message', (_c: string, m: string) => {
      const ev = JSON.parse(m) as { id: string; status?: string };
      if (ev.status === 'done' || ev.status === 'failed')
        finalEvents.set(ev.id, (finalEvents.get(ev.id) ?? 0) + 1);
    });
    const probe = connectRedis(kiosk.redis.url).on('error', () => undefined);
    connections.push(probe);
    const activeIds = async (queues: string[]) =>
      (await Promise.all(queues.map((q) => probe.lrange(`${PREFIX}:${q}:active`, 0, -1)))).flat();

    // ---- phase 1: the trivial model, faults 1-4 ----
    type Work = { kind: 'image'; img: FaultImage } | { kind: 'zip'; name: string; imgs: FaultImage[] };
    const work: Work[] = [];
    const singles = [...good.slice(0, SINGLES), ...bad.slice(1)];
    const zips = Array.from({ length: ZIPS }, (_, z) =>
      good.slice(SINGLES + z * ZIP_SIZE, SINGLES + (z + 1) * ZIP_SIZE),
    );
    zips[0]!.push(bad[0]!); // one bad entry in a zip: that child fails, the batch is done with a failure
    // interleave: a zip after every ~70 singles, bad files spread out
    const step = Math.ceil(singles.length / (ZIPS + 1));
    singles.forEach((img, i) => {
      work.push({ kind: 'image', img });
      if ((i + 1) % step === 0 && zips.length)
        work.push({ kind: 'zip', name: `batch${ZIPS - zips.length}.zip`, imgs: zips.shift()! });
    });
    for (const imgs of zips) work.push({ kind: 'zip', name: `batch${ZIPS - zips.length}.zip`, imgs });

    const expected: Expectation[] = [];
    const counter = { retries: 0 };
    let submitted = 0;
    /** Bad inputs the API refused at once (4xx with a reason): never accepted, so never jobs. */
    const refused: string[] = [];
    /** Uploads `file` and creates a job of it; undefined when the API refuses a bad input with a reason. */
    const create = async (
      file: { name: string; bytes: Uint8Array },
      bad: boolean,
    ): Promise<JobView | undefined> => {
      try {
        const [key] = await retrying(counter, () => client.upload([file]));
        return await retrying(counter, () => client.createJob({ inputs: [key!], model: 'trivial' }));
      } catch (err) {
        const clientError = err instanceof KioskClientError && err.status !== undefined && err.status < 500;
        if (!bad || !clientError || !err.message.trim()) throw err;
        refused.push(`${file.name}: ${err.message}`);
        return undefined;
      }
    };
    const badReason = /truncat|not a|PNG|image/i;
    const submit = async (w: Work) => {
      if (w.kind === 'image') {
        const job = await create(w.img, !w.img.expected);
        if (job)
          expected.push({
            id: job.id,
            kind: 'image',
            name: w.img.name,
            outcome: w.img.expected ? 'done' : 'failed',
            ...(w.img.expected ? { labels: w.img.expected } : { reason: badReason }),
          });
      } else {
        const zipOf = (imgs: FaultImage[]) => ({
          name: w.name,
          bytes: packZip(imgs.map((i) => ({ name: i.name, data: i.bytes }))),
        });
        const hasBad = w.imgs.some((i) => !i.expected);
        let imgs = w.imgs;
        let job = await create(zipOf(imgs), hasBad);
        if (!job) {
          // the API refused the zip for its bad entry: send it again without (what its user would do)
          imgs = imgs.filter((i) => i.expected);
          job = (await create(zipOf(imgs), false))!;
        }
        expected.push({ id: job.id, kind: 'batch', name: w.name, outcome: 'done' });
        for (const c of job.children ?? []) {
          const img = imgs.find((i) => i.name === c.name)!;
          expected.push({
            id: c.id,
            kind: 'image',
            name: c.name,
            parent: job.id,
            outcome: img.expected ? 'done' : 'failed',
            ...(img.expected ? { labels: img.expected } : { reason: badReason }),
          });
        }
      }
      submitted++;
    };

    const faultNotes: string[] = [];
    const stageToJob = (ids: string[]) => [
      ...new Set(ids.map((i) => i.replace(/-(pre|predict|post|pack)(-p\d+)?$/, ''))),
    ];
    /**
     * kill -9 `m` (once it is ready) as soon as its queues have jobs running (waits up to 10 s for that);
     * notes what was running. The supervisor restarts it.
     */
    const killMidBatch = async (m: Managed, queues: string[]) => {
      await m.ready().catch(() => undefined);
      let ids: string[] = [];
      for (let i = 0; i < 1000 && ids.length === 0; i++) {
        ids = await activeIds(queues);
        if (ids.length === 0) await sleep(10);
      }
      m.kill9();
      faultNotes.push(`kill -9 ${m.spec.name} (${ids.length} stage jobs running in ${queues.join('+')})`);
      log(`${faultNotes.at(-1)}; ${finalEvents.size} of ${planned} jobs finished so far`);
      return stageToJob(ids);
    };
    const killRedis = async () => {
      const running = stageToJob(await activeIds(['preprocess', 'predict', 'postprocess']));
      kiosk.redis.managed.kill9();
      const down = Date.now();
      faultNotes.push(`kill -9 redis-server (${running.length} jobs running), restarted on its AOF`);
      log(`${faultNotes.at(-1)}; ${finalEvents.size} of ${planned} jobs finished so far`);
      await sleep(1500);
      await kiosk.redis.start();
      log(`redis back after ${((Date.now() - down) / 1000).toFixed(1)} s`);
      return running;
    };
    const inFlightAtKill: string[] = [];
    const planned = work.reduce((a, w) => a + (w.kind === 'zip' ? 1 + w.imgs.length : 1), 0);
    // The faults, spread over the batch by how much of it has been submitted (jobs flow through the stages
    // while they are submitted, so each kill finds jobs running).
    const faults = (async () => {
      const at = async (fraction: number) => {
        while (submitted < work.length * fraction) await sleep(20);
      };
      const cpuQueues = ['preprocess', 'postprocess'];
      await at(0.1);
      inFlightAtKill.push(...(await killMidBatch(kiosk.cpu[0]!, cpuQueues)));
      await at(0.25);
      inFlightAtKill.push(...(await killMidBatch(kiosk.gpu, ['predict'])));
      await at(0.4);
      inFlightAtKill.push(...(await killRedis()));
      await at(0.55);
      inFlightAtKill.push(...(await killMidBatch(kiosk.cpu[1]!, cpuQueues)));
      await at(0.7);
      inFlightAtKill.push(...(await killMidBatch(kiosk.gpu, ['predict'])));
      await at(0.85);
      inFlightAtKill.push(...(await killMidBatch(kiosk.cpu[0]!, cpuQueues)));
    })();
    const queue = [...work];
    const t1 = Date.now();
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let w = queue.shift(); w; w = queue.shift()) await submit(w);
      }),
    );
    await faults;
    log(
      `phase 1: ${submitted} submissions (${expected.length} jobs accepted) in ${((Date.now() - t1) / 1000).toFixed(1)} s (${counter.retries} client retries)`,
    );
    let lastTick = 0;
    const stuck1 = await waitAllFinal(client, expected, 90_000, (p) => {
      if (Date.now() - lastTick > 10_000) {
        lastTick = Date.now();
        log(`waiting for ${p} jobs`);
      }
    });
    log(`phase 1 final after ${((Date.now() - t1) / 1000).toFixed(1)} s; ${stuck1.length} not final`);

    faultNotes.push(
      `supervisor restarts: ${[...kiosk.cpu, kiosk.gpu].map((m) => `${m.spec.name} ${m.restarts}`).join(', ')}`,
    );

    // ---- phase 2: the real shipped model; a bucket model version removed while jobs reference it ----
    const t2 = Date.now();
    await Promise.all([...kiosk.cpu, kiosk.gpu].map((w) => w.stop()));
    const real = { KIOSK_TRIVIAL_MODEL: '0' };
    kiosk.cpu = [kiosk.worker('cpu-real', 'cpu', real)];
    kiosk.gpu = kiosk.worker('gpu-real', 'gpu', real);
    for (const v of ['2', '3']) {
      const to = join(bucket, 'models', 'nuclear', v);
      await cp(resolve('models/nuclear/1'), to, { recursive: true });
      const card = JSON.parse(await readFile(join(to, 'card.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(to, 'card.json'), JSON.stringify({ ...card, version: Number(v) }));
    }
    await Promise.all([kiosk.cpu[0]!.start(), kiosk.gpu.start()]);
    const stems = valStems().slice(0, 6);
    const realImages = await Promise.all(
      stems.map(async (s) => ({
        name: `${s}.png`,
        bytes: await readFile(join(NUCLEI_VAL, `${s}.image.png`)),
        truth: labelsFromRaw(
          decodeImage(await readFile(join(NUCLEI_VAL, `${s}.labels.png`)), { name: s }),
          s,
        ),
      })),
    );
    const f1s: number[] = [];
    const plausible = (truth: Labels) => (got: Labels) => {
      if (got.width !== truth.width || got.height !== truth.height)
        return `labels ${got.width}x${got.height}, image ${truth.width}x${truth.height}`;
      const f1 = scoreImage(got, truth, [0.5]).f1_50;
      f1s.push(f1);
      return f1 >= 0.5 ? undefined : `F1@0.5 ${f1.toFixed(3)} against the val labels (< 0.5)`;
    };
    const submitReal = async (
      img: { name: string; bytes: Uint8Array; truth: Labels },
      version: string,
      e: Partial<Expectation>,
    ) => {
      const [key] = await retrying(counter, () => client.upload([img]));
      const job = await retrying(counter, () =>
        client.createJob({ inputs: [key!], model: 'nuclear', modelVersion: version }),
      );
      const x: Expectation = {
        id: job.id,
        kind: 'image',
        name: img.name,
        outcome: 'done',
        checkLabels: plausible(img.truth),
        ...e,
      };
      expected.push(x);
      return x;
    };
    const removed = /model nuclear version [23] was removed/;
    // the shipped version, and version 2 until it is loaded by the inference worker
    // A job that kills its worker each time it runs (as an image that makes the worker run out of memory):
    // its preprocess is killed at each of its first 3 starts, and BullMQ then fails it (maxStalledCount 2).
    // Its record must end failed, saying so, not stay 'pre-processing' forever.
    const raw = decodeImage(realImages[0]!.bytes, { name: 'poison' });
    const [ph, pw] = raw.shape as [number, number];
    const big = new Uint8Array(4 * ph * pw);
    for (let y = 0; y < 2 * ph; y++)
      for (let x = 0; x < 2 * pw; x++)
        big[y * 2 * pw + x] = raw.data[((y >> 1) * pw + (x >> 1)) * (raw.shape[2] ?? 1)]!;
    const poisonImage = {
      ...realImages[0]!,
      name: 'poison.png',
      bytes: encodePng({ data: big, dtype: 'uint8', shape: [2 * ph, 2 * pw], axes: 'YX' }),
    };
    const stream = connectRedis(kiosk.redis.url).on('error', () => undefined);
    const keys = ['preprocess', 'postprocess'].map((q) => `${PREFIX}:${q}:events`);
    const last = await Promise.all(
      keys.map(async (k) => (await stream.xrevrange(k, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'),
    );
    const poison = await submitReal(poisonImage, '1', {
      outcome: 'failed',
      reason: /worker was lost 3 times/,
    });
    // Each time one of its CPU stages starts (BullMQ's 'active' event), the CPU worker is killed; after 3
    // kills of the same stage BullMQ gives up on it.
    const poisonKills = (async () => {
      const kills = new Map<string, number>();
      const most = () => Math.max(0, ...kills.values());
      const until = Date.now() + 90_000;
      while (most() < 3 && Date.now() < until) {
        const got = (await stream.xread('BLOCK', 1000, 'STREAMS', ...keys, ...last)) ?? [];
        for (const [key, entries] of got)
          for (const [id, fields] of entries) {
            last[keys.indexOf(key)] = id;
            const ev = Object.fromEntries(fields.flatMap((_, i, f) => (i % 2 ? [] : [[f[i], f[i + 1]]])));
            const stage = String(ev.jobId);
            if (ev.event === 'active' && stage.startsWith(poison.id) && most() < 3) {
              kiosk.cpu[0]!.kill9();
              kills.set(stage, (kills.get(stage) ?? 0) + 1);
            }
          }
      }
      stream.disconnect();
      const n = [...kills.values()].reduce((a, b) => a + b, 0);
      faultNotes.push(`kill -9 ${kiosk.cpu[0]!.spec.name} at each of ${n} starts of one job's stages`);
      log(faultNotes.at(-1)!);
      return most();
    })();
    const loaded = await Promise.all([
      submitReal(realImages[0]!, '1', {}),
      submitReal(realImages[1]!, '2', {}),
      submitReal(realImages[2]!, '2', {}),
    ]);
    // kill -9 the inference worker while it runs the real model
    inFlightAtKill.push(...(await killMidBatch(kiosk.gpu, ['predict'])));
    const stuckLoaded = await waitAllFinal(client, [...loaded, poison], 90_000);
    expect(await poisonKills).toBe(3);
    // Then more jobs of version 2 (loaded by the inference worker) and of version 3 (never loaded), accepted
    // while the CPU pool is scaled to zero, and both versions are removed before it comes back: the jobs
    // reference versions that are gone and must fail saying so (a stage that already has its model may finish).
    await kiosk.cpu[0]!.stop();
    const late = await Promise.all([
      submitReal(realImages[3]!, '2', { outcome: 'either', reason: removed }),
      submitReal(realImages[4]!, '3', { outcome: 'failed', reason: removed }),
      submitReal(realImages[5]!, '3', { outcome: 'failed', reason: removed }),
    ]);
    await rm(join(bucket, 'models', 'nuclear', '2'), { recursive: true });
    await rm(join(bucket, 'models', 'nuclear', '3'), { recursive: true });
    await kiosk.cpu[0]!.start();
    const stuckLate = await waitAllFinal(client, late, 60_000);
    log(
      `phase 2 (real model, model removal): ${loaded.length + late.length + 1} jobs in ${((Date.now() - t2) / 1000).toFixed(1)} s`,
    );

    // ---- the audit ----
    const result = await audit({
      client,
      bucket,
      lab: LAB,
      expected,
      finalEvents,
      stuck: [...stuck1, ...stuckLoaded, ...stuckLate],
    });
    faultNotes.push(`supervisor restarts: ${kiosk.gpu.spec.name} ${kiosk.gpu.restarts}`);
    const count = (re: RegExp) => result.failures.filter((f) => re.test(f.reason)).length;
    log(
      `faults injected: ${faultNotes.join('; ')}; bucket write failures injected: ${kiosk.log.count(/injected fault/)}`,
    );
    log(
      `garbage left by kills (not results, never read): ${result.partials.length} partial .part files under results/, ` +
        `${result.scratchLeft} scratch/ folders`,
    );
    log(
      `${result.done} done, ${result.failures.length} failed with a reason (${count(removed)} of a removed model version, ` +
        `${count(/worker was lost/)} that kept killing its worker, ${result.failures.length - count(removed) - count(/worker was lost/)} bad inputs), ` +
        `${inFlightAtKill.length} jobs were running at a kill; real model F1@0.5 ${f1s.map((f) => f.toFixed(2)).join(' ')}; ` +
        `${counter.retries} client retries; ${refused.length} bad inputs refused by the API at once with a reason; ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s in all`,
    );
    process.stdout.write(`${result.line}\n`);
    const grantViolations = await kiosk.grantViolations();
    log(`bucket calls outside their role's grants: ${grantViolations.length}`);
    const problems = [
      ...grantViolations.map((s) => `outside its role's grants: ${s}`),
      ...result.lost.map((s) => `lost: ${s}`),
      ...result.duplicated.map((s) => `duplicated: ${s}`),
      ...result.failedWithoutReason.map((s) => `failed without reason: ${s}`),
      ...result.wrong.map((s) => `wrong: ${s}`),
    ];
    if (problems.length)
      process.stdout.write(`${problems.join('\n')}\n--- process logs (tail) ---\n${kiosk.log.text()}\n`);
    expect(problems).toEqual([]);
    expect(result.line).toBe(
      `faults: ${expected.length} jobs, 0 lost, 0 duplicated, 0 failed without reason`,
    );
  } finally {
    // a run that failed or timed out early still shows the calls its processes' grants refused
    const refused = (await k?.grantViolations()) ?? [];
    if (refused.length)
      process.stdout.write(`bucket calls outside their role's grants:\n${refused.join('\n')}\n`);
    for (const c of connections) c.disconnect();
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
