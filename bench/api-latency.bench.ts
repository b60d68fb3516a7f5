/**
 * One 1-Mpx image through the API, one at a time (issue 22: upload → labels in < 1.5 s on the 2-core
 * development machine). The service is started once as `kiosk start` runs it (API, one CPU worker, one
 * inference worker, a private redis-server; service-processes.ts) with its own default settings and the
 * shipped model (models/nuclear/<newest>). The input is a 1024×1024 grid of 16 real 256×256 val images,
 * in their own dtype (api-latency-input.ts), sent as a PNG.
 *
 * Each measured image: POST /v1/jobs/upload (upload + job) → the job's final event (Redis job-event
 * channel, as the web UI hears it; a polling client adds up to its poll interval) → GET /v1/jobs/:id →
 * GET labelsUrl (the label TIFF). Printed per image: the latency and its client-side parts, the stage
 * times the job record carries, the service's CPU seconds (API, workers, Redis; from /proc and INFO);
 * then median/min/max per series and the verdict line. Warm-up jobs come first (the first one loads the
 * model: printed apart, never counted).
 *
 * Two series, interleaved so load on the machine falls on both alike: `auto` (no µm/px: the service
 * estimates the nucleus size, which may rescale and run again) and `mpp` (µm/px given: one pass at that
 * scale, no estimate). Options: --n images per series (5), --warmup jobs per series (1), --mpp µm/px of
 * the `mpp` series (default the model card's, i.e. scale 1), --only auto|mpp, --service-threads N
 * (KIOSK_ONNX_THREADS of the inference worker; default the service's own).
 */
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { JobRequest } from '../api/client.js';
import { decodeImage } from '../workers/image/decode.js';
import { labelsFromRaw } from '../workers/image/files.js';
import { encodePng } from '../workers/image/png.js';
import { scratchDirFor } from '../workers/storage/index.js';
import { startPrivateRedis } from '../test/redis.js';
import { NUCLEI_VAL } from '../test/data.js';
import { gridImage, summarize } from './api-latency-input.js';
import {
  cpuTotal,
  startService,
  type BenchImage,
  type Service,
  type ServiceCpu,
} from './service-processes.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    mpp: { type: 'string' },
    only: { type: 'string' },
    'service-threads': { type: 'string' },
  },
});
const N = Number(values.n);
const WARMUP = Number(values.warmup);
const TARGET_S = 1.5;
if (!Number.isInteger(N) || N < 1) throw new RangeError(`--n must be a whole number >= 1; got ${values.n}`);
if (!Number.isInteger(WARMUP) || WARMUP < 1)
  throw new RangeError(
    `--warmup must be a whole number >= 1 (the first job loads the model); got ${values.warmup}`,
  );
if (values.only !== undefined && values.only !== 'auto' && values.only !== 'mpp')
  throw new RangeError(`--only must be auto or mpp; got ${values.only}`);

/** The images sent one way: `auto` without µm/px, `mpp` with. */
interface Series {
  name: 'auto' | 'mpp';
  job: Omit<JobRequest, 'inputs'>;
  samples: Sample[];
}

/** One measured image: seconds from the client's side, from the job record, and the service's CPU. */
interface Sample {
  total: number;
  submit: number;
  toDone: number;
  fetch: number;
  stages: Record<string, number | undefined>;
  cpu: ServiceCpu;
  objects: number | undefined;
}

const loadLine = async () =>
  (await readFile('/proc/loadavg', 'utf8')).trim().split(' ').slice(0, 3).join(' ');
const s2 = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(2));
const cpuDelta = (a: ServiceCpu, b: ServiceCpu): ServiceCpu => ({
  api: b.api - a.api,
  cpuWorker: b.cpuWorker - a.cpuWorker,
  inferenceWorker: b.inferenceWorker - a.inferenceWorker,
  redis: b.redis - a.redis,
});

/** The 1024×1024 input: the first 16 val images of 256×256 (sorted by name), as a PNG of their dtype. */
async function input(): Promise<BenchImage> {
  const tiles = [];
  for (const f of readdirSync(NUCLEI_VAL)
    .filter((f) => f.endsWith('.image.png'))
    .sort()) {
    const raw = decodeImage(await readFile(join(NUCLEI_VAL, f)), { name: f });
    if (raw.axes === 'YX' && raw.shape[0] === 256 && raw.shape[1] === 256) tiles.push(raw);
    if (tiles.length === 16) break;
  }
  if (tiles.length < 16)
    throw new Error(`${NUCLEI_VAL} has ${tiles.length} grey 256x256 images; 16 are needed`);
  const grid = gridImage(tiles, 4, 4);
  console.log(`input: 1024x1024 ${grid.dtype} PNG, a 4x4 grid of 16 val images (${NUCLEI_VAL})`);
  return { name: 'val-grid-1024.png', bytes: encodePng(grid), path: NUCLEI_VAL };
}

/** Upload → final event → job view → label TIFF, timed; the labels are checked after the clock stops. */
async function oneImage(svc: Service, img: BenchImage, job: Omit<JobRequest, 'inputs'>): Promise<Sample> {
  const cpu0 = await svc.cpuS();
  const t0 = performance.now();
  const { id } = await svc.client.submit([img], job);
  const t1 = performance.now();
  const rec = await svc.watcher.waitForFinal(id, 600_000);
  const t2 = performance.now();
  if (rec.status !== 'done') throw new Error(`job ${id} ${rec.status}: ${rec.reason}`);
  const view = await svc.client.getJob(id);
  const tiff = await svc.client.download(view.labelsUrl!);
  const t3 = performance.now();
  const cpu = cpuDelta(cpu0, await svc.cpuS());
  const labels = labelsFromRaw(decodeImage(tiff, { name: 'labels' }), 'labels');
  if (labels.width !== 1024 || labels.height !== 1024)
    throw new Error(`job ${id}: labels are ${labels.width}x${labels.height}, not 1024x1024`);
  const started = rec.started_at ? Date.parse(rec.started_at) : undefined;
  return {
    total: (t3 - t0) / 1000,
    submit: (t1 - t0) / 1000,
    toDone: (t2 - t1) / 1000,
    fetch: (t3 - t2) / 1000,
    stages: {
      queued: started === undefined ? undefined : (started - Date.parse(rec.created_at)) / 1000,
      download: rec.download_time,
      pre: rec.preprocess_time,
      predict: rec.prediction_time,
      post: rec.postprocess_time,
      save: rec.upload_time,
      'record total': rec.total_time,
    },
    cpu,
    objects: rec.object_count,
  };
}

const describe = (s: Sample) =>
  `${s.total.toFixed(2)} s (upload+submit ${s2(s.submit)}, to done ${s2(s.toDone)}, view+labels ${s2(s.fetch)})` +
  ` | record: ${Object.entries(s.stages)
    .map(([k, v]) => `${k} ${s2(v)}`)
    .join(', ')}` +
  ` | service CPU ${s2(cpuTotal(s.cpu))} s (API ${s2(s.cpu.api)}, CPU worker ${s2(s.cpu.cpuWorker)}, ` +
  `inference ${s2(s.cpu.inferenceWorker)}, Redis ${s2(s.cpu.redis)}) | ${s.objects ?? '?'} objects`;

async function main(): Promise<void> {
  const models = resolve('models');
  if (values.mpp !== undefined && !(Number(values.mpp) > 0))
    throw new RangeError(`--mpp must be a number > 0 (µm/px); got ${values.mpp}`);
  const img = await input();
  const tmp = await mkdtemp(join(tmpdir(), 'bench-api-latency-'));
  const bucket = join(tmp, 'bucket');
  const redis = await startPrivateRedis();
  const loadBefore = await loadLine();
  let mpp: number | undefined;
  let series: Series[] = [];
  let firstJob: Sample | undefined;
  try {
    const t0 = performance.now();
    const svc = await startService(
      {
        REDIS_URL: redis.url,
        KIOSK_BUCKET: bucket,
        KIOSK_MODEL_CACHE: join(tmp, 'cache'),
        KIOSK_MODELS_DIR: models,
        KIOSK_PREFIX: 'bench-latency',
        KIOSK_RUNTIME: 'onnx',
        ...(values['service-threads'] ? { KIOSK_ONNX_THREADS: values['service-threads'] } : {}),
      },
      { cpuWorkers: 1, cpuNice: 0, nodeArgs: [] },
    );
    console.log(
      `service: API + 1 CPU worker + 1 inference worker (onnxruntime threads: ${values['service-threads'] ?? 'service default'}), ` +
        `ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    try {
      // The model a job naming none gets (KIOSK_DEFAULT_MODEL, newest version), as GET /v1/models lists it.
      const listed = JSON.parse(Buffer.from(await svc.client.download('/v1/models')).toString('utf8')) as {
        models: { name: string; version: string; card: { input?: { mpp?: number } } }[];
      };
      const model = listed.models
        .filter((m) => m.name === 'nuclear')
        .sort((a, b) => Number(b.version) - Number(a.version))[0];
      mpp = values.mpp === undefined ? model?.card.input?.mpp : Number(values.mpp);
      if (mpp === undefined)
        throw new Error('GET /v1/models lists no nuclear model with a µm/px; give --mpp');
      console.log(
        `model: nuclear ${model?.version ?? '?'} (${model?.card.input?.mpp ?? '?'} µm/px; onnxruntime float or int8 as KIOSK_INT8=auto picks)`,
      );
      series = [
        { name: 'auto' as const, job: {}, samples: [] },
        { name: 'mpp' as const, job: { options: { micronsPerPixel: mpp } }, samples: [] },
      ].filter((s) => values.only === undefined || s.name === values.only);

      for (let w = 0; w < WARMUP; w++)
        for (const s of series) {
          const first = await oneImage(svc, img, s.job);
          firstJob ??= first;
          console.log(
            `warm-up ${w + 1} ${s.name}${w === 0 && s === series[0] ? ' (loads the model)' : ''}: ${describe(first)}`,
          );
        }
      for (let i = 0; i < N; i++)
        for (const s of series) {
          const x = await oneImage(svc, img, s.job);
          s.samples.push(x);
          console.log(`#${i + 1} ${s.name}: ${describe(x)}`);
        }
    } finally {
      await svc.stop();
    }
  } finally {
    await redis.stop();
    const scratch = scratchDirFor(bucket);
    if (scratch) await rm(scratch, { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
  }
  const loadAfter = await loadLine();
  const cores = availableParallelism();
  const busy = Number(loadAfter.split(' ')[0]) > cores || Number(loadBefore.split(' ')[0]) > cores;
  console.log(
    `notes: ${cpus()[0]?.model ?? 'CPU ?'}, ${cores} cores; load average (1, 5, 15 min) ${loadBefore} before, ${loadAfter} after` +
      (busy
        ? ` — more runnable processes than cores: the machine is shared and loaded, so wall times include waiting for a core; the service CPU seconds are the less load-bound figure`
        : ''),
  );
  if (firstJob)
    console.log(
      `first job (loads the model, JIT warm-up; not counted): ${s2(firstJob.total)} s, service CPU ${s2(cpuTotal(firstJob.cpu))} s`,
    );
  for (const s of series) {
    const t = summarize(s.samples.map((x) => x.total));
    const cpu = summarize(s.samples.map((x) => cpuTotal(x.cpu)));
    const stage = Object.keys(s.samples[0]!.stages)
      .map((k) => {
        const xs = s.samples.map((x) => x.stages[k]).filter((v): v is number => v !== undefined);
        return `${k} ${xs.length ? s2(summarize(xs).median) : '-'}`;
      })
      .join(', ');
    const what = s.name === 'auto' ? 'no µm/px (size estimated)' : `µm/px ${mpp} given (no estimate)`;
    console.log(
      `${s.name}, ${what}: ${N} images, median ${s2(t.median)} s, min ${s2(t.min)}, max ${s2(t.max)}; stage medians: ${stage}; service CPU median ${s2(cpu.median)} s per image`,
    );
    console.log(
      `api-latency${s.name === 'mpp' ? ' (µm/px given)' : ''}: 1-Mpx upload→labels median ${s2(t.median)} s (target < ${TARGET_S} s)` +
        (t.median < TARGET_S
          ? ' — met'
          : ` — not met on this run (load ${loadAfter.split(' ')[0]} on ${cores} cores)`),
    );
  }
}

await main();
