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
 *
 * Where the parts are: service-processes.ts starts the service's processes and runs jobs through them;
 * service-overhead.ts is part B; this script parses the options, picks the model and runs part A.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
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
import { startPrivateRedis } from '../test/redis.js';
import { NUCLEI_VAL } from '../test/data.js';
import { scratchDirFor } from '../workers/storage/index.js';
import { partB } from './service-overhead.js';
import { runJobs, startService, type BenchImage, type ServiceProcessOptions } from './service-processes.js';

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
const SERVICE: ServiceProcessOptions = {
  cpuWorkers: CPU_WORKERS,
  cpuNice: Number(values['cpu-nice']),
  nodeArgs: values['service-node-args']?.split(' ').filter(Boolean) ?? [],
  ...(values.profile ? { profile: values.profile } : {}),
  ...(values['service-log'] ? { log: values['service-log'] } : {}),
};

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
    if (values.only !== 'throughput')
      await partB(images, common, tmp, {
        service: SERVICE,
        inflight: INFLIGHT,
        warmup: WARMUP,
        rounds: ROUNDS,
      });
  } finally {
    await redis.stop();
    const scratch = scratchDirFor(bucket); // the services' default (KIOSK_SCRATCH_DIR=auto)
    if (scratch) await rm(scratch, { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
    await rm(bucket, { recursive: true, force: true });
  }
}

async function partA(
  images: readonly BenchImage[],
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
  // megapixels of input (each image's height x width), for the Mpx/s figures (issue 22)
  const mpx = expected.reduce((sum, l) => sum + l.width * l.height, 0) / 1e6;
  const rate = (ms: number) =>
    `${((N * 1000) / ms).toFixed(2)} images/s, ${((mpx * 1000) / ms).toFixed(2)} Mpx/s`;
  await runner.dispose();
  console.log(
    `in-process pipeline: ${N} images (${mpx.toFixed(2)} Mpx) in ${(inMs / 1000).toFixed(2)} s = ${rate(inMs)}`,
  );

  // A2. the service
  const svc = await startService(
    { ...common, KIOSK_PREFIX: 'bench-a', KIOSK_MODELS_DIR: modelsDir },
    SERVICE,
  );
  await runJobs(svc, [images[0]!], INFLIGHT); // warm-up: model load in the inference worker
  const cpuA0 = await svc.cpuS();
  const a = await runJobs(svc, images, INFLIGHT);
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
    `service end to end: ${N} images (${mpx.toFixed(2)} Mpx) in ${(a.ms / 1000).toFixed(2)} s = ${rate(a.ms)}`,
  );
  console.log(`service / in-process throughput: ${((100 * inMs) / a.ms).toFixed(1)} % (target >= 90 %)`);
  console.log(`service labels equal to in-process: ${equal}/${N}`);
  const per = (k: keyof typeof cpuA0) => (((cpuA1[k] - cpuA0[k]) * 1000) / N).toFixed(1);
  console.log(
    `CPU per image: in-process ${((inCpu.user + inCpu.system) / 1000 / N).toFixed(1)} ms; service: API ${per('api')} ms, CPU worker ${per('cpuWorker')} ms, inference worker ${per('inferenceWorker')} ms, Redis ${per('redis')} ms`,
  );
}

await main();
