/**
 * The job service end to end vs the pipeline in-process, same run, same images and model (onnxruntime on
 * every core in-process and in the service unless --service-threads; the service's threads sleep when idle
 * (KIOSK_ONNX_SPIN), the in-process ones spin as kiosk segment's do):
 *
 * A. throughput: N val images (cycled; default 200, `--n`) through the API of a listening server with the
 *    worker processes of the local kiosk (one CPU worker unless --cpu-workers N, one inference worker), uploaded and submitted as
 *    N jobs, until the last is done — vs `segmentImageDetailed` on the same images one after another in
 *    this process (what `kiosk segment` does). Prints both throughputs, the ratio, and whether every
 *    service label image equals the in-process one.
 * B. orchestration overhead per job with the trivial model (TRIVIAL threshold runner + trivial stages):
 *    (service wall time − in-process time) / N for N jobs in flight — the median of --rounds rounds, each an
 *    in-process pass then a service pass — and the same for jobs run one at a time.
 *
 * Model: models/nuclear/<newest> when it has model.onnx, else the default buildNetwork() with random weights
 * (same architecture and cost; labels meaningless but still compared). Redis: a private redis-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, setPriority, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KioskClient } from '../api/client.js';
import { decodeImage } from '../workers/image/decode.js';
import { labelsFromRaw } from '../workers/image/files.js';
import type { Labels } from '../workers/image/types.js';
import { exportModelDir } from '../workers/model/export-model-dir.js';
import { readModelCard, saveModel, type ModelCard } from '../workers/model/model-io.js';
import { buildNetwork, countParams } from '../workers/model/network.js';
import { loadRunner } from '../workers/model/runners.js';
import { initTfjs } from '../workers/model/runtime.js';
import { segmentImageDetailed } from '../workers/pipeline/segment.js';
import { testCard } from '../workers/pipeline/testing/precomputed-maps-runner.js';
import { TRIVIAL_CARD, TrivialThresholdRunner, trivialStages } from '../workers/processors/trivial-stages.js';
import { freePort, startPrivateRedis } from '../test/redis.js';
import type { Redis } from 'ioredis';
import { connectRedis } from '../workers/queues/connection.js';
import { JobRecords } from '../workers/queues/records.js';
import { JobWatcher } from '../workers/queues/watcher.js';
import { NUCLEI_VAL } from '../test/data.js';
import { scratchDirFor } from '../workers/storage/index.js';
import { kioskNodeFlags } from '../workers/autoscaler/drivers/local.js';
import { waitLine } from './wait-line.js';

const VAL = NUCLEI_VAL;
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '200' },
    inflight: { type: 'string', default: '16' },
    only: { type: 'string' }, // 'throughput' (part A) or 'overhead' (part B)
    // onnxruntime threads of the service's inference worker (default: the service's own default, every core
    // but one, which leaves a core to the CPU worker so pre/post-processing overlap with inference)
    'service-threads': { type: 'string' },
    // write V8 CPU profiles of the service's processes (API, CPU worker, inference worker) to this folder,
    // and part B's measured service passes' time spans to window.json in it (for profile-summary.ts --window)
    profile: { type: 'string' },
    // extra node/V8 flags for the service's processes, space-separated, after those `kiosk start` gives them
    // (kioskNodeFlags: --single-threaded-gc on 2 cores or fewer)
    'service-node-args': { type: 'string' },
    // CPU worker processes of the service (the local kiosk's autoscaler runs 1..min(4, cores/2))
    'cpu-workers': { type: 'string', default: '1' },
    // the service's bucket folder (default: a new folder under the system's temporary folder). Each job
    // creates files and folders there (its upload, its result). Where that file system is ext4 without a
    // journal (the development VM's root, 2026-11-26: /proc/fs/jbd2 empty), creating a file costs 20 µs
    // of kernel CPU, but 0.1-1 ms for a while after many files were deleted — the previous run's
    // bucket, say: the kernel's inode allocator steps over recently freed inodes one by one (perf:
    // find_inode_bit → recently_deleted, ~60 % of the samples); on a journaled ext4 (a loop-mounted
    // image, mkfs defaults) it stayed at 20 µs. /dev/shm, or such a file system, takes that out of a
    // comparison
    bucket: { type: 'string' },
    // niceness of the CPU worker processes (0: as the others), so inference outranks pre/post-processing
    'cpu-nice': { type: 'string', default: '0' },
    // write each service process's standard output to <dir>/<process>.log (e.g. with --trace-gc)
    'service-log': { type: 'string' },
    // part B: jobs run before the measured ones, in-process and through the service alike (JIT warm-up)
    warmup: { type: 'string', default: '100' },
    // part B: rounds of an in-process pass then a service pass (the overhead printed is their median)
    rounds: { type: 'string', default: '3' },
  },
});
const N = Number(values.n);
const INFLIGHT = Number(values.inflight);
const WARMUP = Number(values.warmup);
const ROUNDS = Number(values.rounds);
const CPU_WORKERS = Number(values['cpu-workers']);
const THREADS = availableParallelism();

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
async function procCpuS(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (100/s)
}

/** CPU seconds Redis has used (INFO cpu). */
async function redisCpuS(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user');
}

/** CPU seconds used so far by each part of the service. */
interface ServiceCpu {
  api: number;
  cpuWorker: number;
  inferenceWorker: number;
  redis: number;
}
const cpuTotal = (c: ServiceCpu) => c.api + c.cpuWorker + c.inferenceWorker + c.redis;

interface Service {
  client: KioskClient;
  /** CPU seconds used so far by the API, the workers and Redis. */
  cpuS(): Promise<ServiceCpu>;
  /** Redis INFO commandstats: calls and µs per command so far. */
  redisCommands(): Promise<Map<string, { calls: number; usec: number }>>;
  /** Waits for a job through the job-event channel (cheap; polling the API would load the machine). */
  watcher: JobWatcher;
  stop(): Promise<void>;
}

/** API + CPU worker + inference worker as processes, like `kiosk start`. */
async function startService(env: NodeJS.ProcessEnv): Promise<Service> {
  const port = await freePort();
  const full = { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'warn' };
  const prof = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(values.profile)}`] : [];
  prof.push(...kioskNodeFlags(), ...(values['service-node-args']?.split(' ').filter(Boolean) ?? []));
  const run = (script: string, args: string[] = []) =>
    spawn(process.execPath, [...prof, '--import', import.meta.resolve('tsx'), resolve(script), ...args], {
      env: full,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const logTo = (c: ChildProcess, n: string) => {
    if (!values['service-log']) return c;
    mkdirSync(values['service-log'], { recursive: true });
    const f = createWriteStream(join(values['service-log'], `${n}.log`));
    c.stdout!.on('data', (d: Buffer) => f.write(d));
    return c;
  };
  const api = logTo(run('api/server.ts'), 'api');
  const cpus = Array.from({ length: CPU_WORKERS }, () => run('workers/main.ts', ['--pool', 'cpu']));
  const gpu = logTo(run('workers/main.ts', ['--pool', 'gpu']), 'gpu');
  cpus.forEach((c, i) => logTo(c, `cpu${i}`));
  for (const c of cpus) if (Number(values['cpu-nice'])) setPriority(c.pid!, Number(values['cpu-nice']));
  const [url] = await Promise.all([
    waitLine(api, /api listening on (\S+)/, 'api'),
    ...cpus.map((cpu) => waitLine(cpu, /worker cpu ready/, 'cpu worker')),
    waitLine(gpu, /worker gpu ready/, 'gpu worker'),
  ]);
  const redis = connectRedis(env.REDIS_URL!);
  const watcher = new JobWatcher(
    new JobRecords(redis, env.KIOSK_PREFIX!, 3600),
    connectRedis(env.REDIS_URL!),
  );
  await watcher.start();
  return {
    client: new KioskClient(url),
    async cpuS() {
      const [a, g, ...c] = await Promise.all([api, gpu, ...cpus].map((p) => procCpuS(p.pid!)));
      const cpuWorker = c.reduce((x, y) => x + y, 0);
      return { api: a!, cpuWorker, inferenceWorker: g!, redis: await redisCpuS(redis) };
    },
    async redisCommands() {
      const out = new Map<string, { calls: number; usec: number }>();
      for (const m of (await redis.info('commandstats')).matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g))
        out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
      return out;
    },
    watcher,
    async stop() {
      await watcher.close();
      redis.disconnect();
      for (const c of [api, gpu, ...cpus]) c.kill('SIGTERM');
      await Promise.all(
        [api, gpu, ...cpus].map((c) =>
          c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)),
        ),
      );
    },
  };
}

/** Submits every image as its own job (at most INFLIGHT uploads at once) and waits until all are final. */
async function runJobs(
  svc: Service,
  images: readonly { name: string; bytes: Uint8Array }[],
): Promise<{ ms: number; ids: string[] }> {
  // The jobs' final events, heard from before the first submission (a job may finish before its submit
  // call returns): the benchmark's client shares the service's cores, so it waits on the events alone,
  // without reading each job's record (waitForFinal reads it twice).
  const finished = new Set<string>();
  const waiting = new Map<string, () => void>();
  const stop = svc.watcher.listen((ev) => {
    if (ev.status !== 'done' && ev.status !== 'failed') return;
    finished.add(ev.id);
    waiting.get(ev.id)?.();
  });
  const final = (id: string) => (finished.has(id) ? undefined : new Promise<void>((r) => waiting.set(id, r)));
  const t0 = performance.now();
  const ids: string[] = new Array<string>(images.length);
  const finals: (Promise<void> | undefined)[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(INFLIGHT, images.length) }, async () => {
        for (let i = next++; i < images.length; i = next++) {
          ids[i] = (await svc.client.submit([images[i]!])).id;
          finals.push(final(ids[i]));
        }
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(finals),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          const left = ids.filter((id) => !finished.has(id));
          reject(new Error(`${left.length} jobs not finished after 30 min (e.g. ${left[0]})`));
        }, 1_800_000);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    stop();
  }
  return { ms: performance.now() - t0, ids };
}

const sameLabels = (a: Labels, b: Labels) =>
  a.width === b.width &&
  a.height === b.height &&
  Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(
    Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
  );

async function main(): Promise<void> {
  const files = readdirSync(VAL)
    .filter((f) => f.endsWith('.image.png'))
    .sort();
  const images = await Promise.all(
    Array.from({ length: N }, async (_, i) => ({
      name: `${i}_${files[i % files.length]!.replace('.image', '')}`,
      bytes: await readFile(join(VAL, files[i % files.length]!)),
      path: join(VAL, files[i % files.length]!),
    })),
  );
  const tmp = await mkdtemp(join(tmpdir(), 'bench-service-'));
  const bucket = values.bucket
    ? await mkdtemp(join(resolve(values.bucket), 'bench-bucket-'))
    : join(tmp, 'bucket');
  const redis = await startPrivateRedis();
  try {
    // The model: shipped nuclear, else the same architecture with random weights.
    let modelsDir = resolve('models');
    const shipped = existsSync('models/nuclear')
      ? readdirSync('models/nuclear')
          .filter((v) => /^\d+$/.test(v) && existsSync(join('models/nuclear', v, 'model.onnx')))
          .sort((a, b) => Number(a) - Number(b))
          .pop()
      : undefined;
    let modelDir: string;
    if (shipped) {
      modelDir = join(modelsDir, 'nuclear', shipped);
      console.log(`model: ${modelDir}`);
    } else {
      await initTfjs({ prefer: 'wasm' });
      modelsDir = join(tmp, 'models');
      modelDir = join(modelsDir, 'nuclear', '1');
      const model = buildNetwork();
      await saveModel(model, modelDir, { ...testCard(), name: 'nuclear', params: countParams(model) });
      await exportModelDir(modelDir);
      model.dispose();
      console.log('model: default buildNetwork() with random weights (no models/nuclear/<v>/model.onnx yet)');
    }
    const card: ModelCard = await readModelCard(modelDir);
    const common = {
      REDIS_URL: redis.url,
      KIOSK_BUCKET: bucket,
      KIOSK_MODEL_CACHE: join(tmp, 'cache'),
      ...(values['service-threads'] ? { KIOSK_ONNX_THREADS: values['service-threads'] } : {}),
      KIOSK_RUNTIME: 'onnx',
    };
    console.log(
      `images: ${N} (${files.length} val images cycled), onnxruntime threads ${THREADS} in-process, ${values['service-threads'] ?? THREADS} in the service, ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)}`,
    );

    if (values.only !== 'overhead') await partA(images, modelsDir, modelDir, card, common);
    if (values.only !== 'throughput') await partB(images, common, tmp);
  } finally {
    await redis.stop();
    const scratch = scratchDirFor(bucket); // the services' default (KIOSK_SCRATCH_DIR=auto)
    if (scratch) await rm(scratch, { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
    await rm(bucket, { recursive: true, force: true });
  }
}

/** One input: its name, its bytes, and the file they were read from. */
type Image = { name: string; bytes: Uint8Array; path: string };

async function partA(
  images: readonly Image[],
  modelsDir: string,
  modelDir: string,
  card: ModelCard,
  common: NodeJS.ProcessEnv,
): Promise<void> {
  // A1. in-process, as kiosk segment
  const runner = await loadRunner(modelDir, { runtime: 'onnx', threads: THREADS });
  const expected: Labels[] = [];
  await segmentImageDetailed(decodeImage(images[0]!.bytes, { name: 'warm-up' }), runner, card);
  const inCpu0 = process.cpuUsage();
  const t = performance.now();
  for (const img of images)
    expected.push(
      (await segmentImageDetailed(decodeImage(img.bytes, { name: img.name }), runner, card))[0]!.labels,
    );
  const inMs = performance.now() - t;
  const inCpu = process.cpuUsage(inCpu0);
  await runner.dispose();
  console.log(
    `in-process pipeline: ${N} images in ${(inMs / 1000).toFixed(2)} s = ${((N * 1000) / inMs).toFixed(2)} images/s`,
  );

  // A2. the service
  const svc = await startService({ ...common, KIOSK_PREFIX: 'bench-a', KIOSK_MODELS_DIR: modelsDir });
  await runJobs(svc, [images[0]!]); // warm-up: model load in the inference worker
  const cpuA0 = await svc.cpuS();
  const a = await runJobs(svc, images);
  const cpuA1 = await svc.cpuS();
  let equal = 0;
  for (const [i, id] of a.ids.entries()) {
    const job = await svc.client.getJob(id);
    if (job.status !== 'done') continue;
    const got = labelsFromRaw(decodeImage(await svc.client.download(job.labelsUrl!), { name: 'out' }), 'out');
    if (sameLabels(got, expected[i]!)) equal++;
  }
  await svc.stop();
  console.log(
    `service end to end: ${N} images in ${(a.ms / 1000).toFixed(2)} s = ${((N * 1000) / a.ms).toFixed(2)} images/s`,
  );
  console.log(`service / in-process throughput: ${((100 * inMs) / a.ms).toFixed(1)} % (target >= 90 %)`);
  console.log(`service labels equal to in-process: ${equal}/${N}`);
  const per = (k: keyof ServiceCpu) => (((cpuA1[k] - cpuA0[k]) * 1000) / N).toFixed(1);
  console.log(
    `CPU per image: in-process ${((inCpu.user + inCpu.system) / 1000 / N).toFixed(1)} ms; service: API ${per('api')} ms, CPU worker ${per('cpuWorker')} ms, inference worker ${per('inferenceWorker')} ms, Redis ${per('redis')} ms`,
  );
}

async function partB(images: readonly Image[], common: NodeJS.ProcessEnv, tmp: string): Promise<void> {
  // B. orchestration overhead with the trivial model
  const o = { channels: [0], maxPixels: 2 ** 28 };
  const trivial = new TrivialThresholdRunner();
  const inProcess = async (img: Image, bytes: Uint8Array): Promise<Uint8Array> => {
    const p = await trivialStages.preprocess(bytes, img.name, TRIVIAL_CARD, o);
    const maps = await trivialStages.predict(p, trivial, TRIVIAL_CARD);
    return trivialStages.encodeLabels(await trivialStages.postprocess(maps, p.meta, TRIVIAL_CARD, o));
  };
  const svc = await startService({
    ...common,
    KIOSK_PREFIX: 'bench-b',
    KIOSK_TRIVIAL_MODEL: '1',
    KIOSK_DEFAULT_MODEL: 'trivial',
  });
  // Warm-up (JIT): the same --warmup images in-process and through the service.
  const warm = images.slice(0, WARMUP);
  for (const img of warm) await inProcess(img, img.bytes);
  await runJobs(svc, warm);
  // The same with the file I/O `kiosk segment` does: read the image file, write <stem>.labels.tif.
  const outDir = join(tmp, 'segment-out');
  mkdirSync(outDir, { recursive: true });
  const cpuIo0 = process.cpuUsage();
  let t = performance.now();
  for (const img of images)
    await writeFile(join(outDir, `${img.name}.labels.tif`), await inProcess(img, await readFile(img.path)));
  const ioInMs = performance.now() - t;
  const cpuIo = process.cpuUsage(cpuIo0);
  const ioCpuMs = (cpuIo.user + cpuIo.system) / 1000;
  // ROUNDS rounds of an in-process pass then a service pass, the overhead taken per round and its median
  // kept: one pass takes 1-4 s and this machine's speed drifts by tens of percent over seconds, so the two
  // sides of each difference are measured next to each other. CPU and Redis figures add up the service
  // passes.
  const rounds: { inWall: number; inCpu: number; svcWall: number }[] = [];
  const windows: { startUs: number; endUs: number }[] = [];
  let svcCpuMs = 0;
  const partCpuMs: ServiceCpu = { api: 0, cpuWorker: 0, inferenceWorker: 0, redis: 0 };
  let clientCpuMs = 0;
  const cmdTotals = new Map<string, { calls: number; usec: number }>();
  for (let r = 0; r < ROUNDS; r++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const img of images) await inProcess(img, img.bytes);
    const inWall = performance.now() - t0;
    const cpuIn = process.cpuUsage(cpu0);
    const svcCpu0 = await svc.cpuS();
    const cmds0 = await svc.redisCommands();
    const client0 = process.cpuUsage();
    const window0 = process.hrtime.bigint() / 1000n; // µs of the monotonic clock, as V8's CPU profiles count
    const b = await runJobs(svc, images);
    const window1 = process.hrtime.bigint() / 1000n;
    const client = process.cpuUsage(client0);
    const svcCpu1 = await svc.cpuS();
    const cmds1 = await svc.redisCommands();
    rounds.push({ inWall, inCpu: (cpuIn.user + cpuIn.system) / 1000, svcWall: b.ms });
    windows.push({ startUs: Number(window0), endUs: Number(window1) });
    svcCpuMs += (cpuTotal(svcCpu1) - cpuTotal(svcCpu0)) * 1000;
    for (const k of Object.keys(partCpuMs) as (keyof ServiceCpu)[])
      partCpuMs[k] += (svcCpu1[k] - svcCpu0[k]) * 1000;
    clientCpuMs += (client.user + client.system) / 1000;
    for (const [name, v] of cmds1) {
      const before = cmds0.get(name) ?? { calls: 0, usec: 0 };
      const sum = cmdTotals.get(name) ?? { calls: 0, usec: 0 };
      cmdTotals.set(name, {
        calls: sum.calls + v.calls - before.calls,
        usec: sum.usec + v.usec - before.usec,
      });
    }
  }
  // The measured passes' time spans, for reading only their samples out of the processes' CPU profiles.
  if (values.profile) await writeFile(join(values.profile, 'window.json'), JSON.stringify(windows));
  const jobs = N * ROUNDS;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const overheads = rounds.map((r) => (r.svcWall - r.inWall) / N);
  const perJobIn = median(rounds.map((r) => r.inWall)) / N;
  const inCpuMs = rounds.reduce((a, r) => a + r.inCpu, 0);
  const partMs = (k: keyof ServiceCpu) => (partCpuMs[k] / jobs).toFixed(2);
  const cmds = [...cmdTotals]
    .map(([name, v]) => ({ name, calls: v.calls / jobs, usec: v.usec / jobs }))
    .filter((c) => c.calls > 0)
    .sort((x, y) => y.usec - x.usec);
  const perJobSvc = median(rounds.map((r) => r.svcWall)) / N;
  const SEQ = Math.min(N, 30);
  t = performance.now();
  for (const img of images.slice(0, SEQ)) await runJobs(svc, [img]);
  const seqMs = performance.now() - t;
  await svc.stop();
  const f = (x: number) => x.toFixed(2);
  const lines = [
    `load average now ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
    `trivial model in-process: ${f(perJobIn)} ms wall, ${f(inCpuMs / jobs)} ms CPU per image (decode, threshold, label, TIFF; median of ${ROUNDS} passes: ${rounds.map((r) => f(r.inWall / N)).join(', ')} ms)`,
    `trivial model through the service, ${N} jobs in flight: ${f(perJobSvc)} ms wall per job (median of ${ROUNDS} passes: ${rounds.map((r) => f(r.svcWall / N)).join(', ')} ms)`,
    `orchestration overhead per job, wall (jobs in flight): ${f(median(overheads))} ms (target < 5 ms; median of ${ROUNDS} rounds, each a service pass minus the in-process pass just before it: ${overheads.map(f).join(', ')} ms)`,
    `in-process with kiosk segment's file I/O (read the image file, write <stem>.labels.tif; one pass): ${f(ioInMs / N)} ms wall, ${f(ioCpuMs / N)} ms CPU per image → overhead vs that: ${f(perJobSvc - ioInMs / N)} ms wall (jobs in flight), ${f(svcCpuMs / jobs - ioCpuMs / N)} ms CPU`,
    `CPU per job: service (API + CPU worker + inference worker + Redis) ${f(svcCpuMs / jobs)} ms vs in-process ${f(inCpuMs / jobs)} ms → orchestration CPU overhead ${f((svcCpuMs - inCpuMs) / jobs)} ms per job (includes the HTTP upload)`,
    `CPU per job by part: API ${partMs('api')} ms, CPU worker ${partMs('cpuWorker')} ms, inference worker ${partMs('inferenceWorker')} ms, Redis ${partMs('redis')} ms; and this benchmark's client (uploads, waiting for the results) ${f(clientCpuMs / jobs)} ms, on the same cores`,
    `Redis commands per job: ${cmds.reduce((a, c) => a + c.calls, 0).toFixed(1)} calls, ${f(cmds.reduce((a, c) => a + c.usec, 0) / 1000)} ms in commands; top: ${cmds
      .slice(0, values.profile ? undefined : 8)
      .map((c) => `${c.name} ${c.calls.toFixed(1)}× ${f(c.usec / 1000)} ms`)
      .join(', ')}`,
    `trivial model one job at a time (upload → done, ${SEQ} jobs): ${(seqMs / SEQ).toFixed(1)} ms per job; overhead ${(seqMs / SEQ - perJobIn).toFixed(1)} ms (latency)`,
  ];
  for (const l of lines) console.log(l);
}

await main();
