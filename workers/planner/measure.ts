/**
 * Measures the planner's per-stage costs on this machine (`kiosk plan --measure FILE`): the service's real
 * stages (`pipelineStages`: decode → normalize → tiles; ONNX model over the tiles; untile → deep watershed)
 * timed per image on val images of several sizes plus a 1024×1024 mosaic of val images, then a least-squares
 * line `seconds = secondsPerImage + secondsPerMegapixel × MP` per stage. The model is models/nuclear/<latest>
 * when it has a model.onnx, else the default network with random weights (same architecture, same cost; the
 * deep-watershed time then depends on meaningless maps — said in the file's notes). Images run at the
 * model's µm/px (one pass; the service's autoscale default may add a second pass).
 * Worker start-up: `workers/main.ts --pool cpu` spawned against a private redis-server until it prints ready.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng, encodePng } from '../image/png.js';
import { exportModelDir } from '../model/export-model-dir.js';
import { readModelCard, saveModel, type ModelCard } from '../model/model-io.js';
import { buildNetwork, countParams } from '../model/network.js';
import { loadRunner } from '../model/runners.js';
import { initTfjs } from '../model/runtime.js';
import { testCard } from '../pipeline/testing/precomputed-maps-runner.js';
import { pipelineStages } from '../processors/pipeline-stages.js';
import { COSTS_FORMAT, type StageCost, type StageCosts } from './costs.js';
import { NUCLEI_VAL } from '../../test/data.js';

const VAL = NUCLEI_VAL;
const REPO = new URL('../../', import.meta.url).pathname;

/** Least-squares a + b·x (b only, through 0, when all x are equal); negatives clamped to 0. */
export function fitLine(xs: readonly number[], ys: readonly number[]): { a: number; b: number } {
  const n = xs.length;
  if (n === 0 || n !== ys.length)
    throw new RangeError(`fitLine needs equal non-empty arrays; got ${xs.length} and ${ys.length}`);
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  if (sxx === 0) return { a: 0, b: mx > 0 ? my / mx : 0 };
  let b = sxy / sxx;
  let a = my - b * mx;
  if (a < 0) {
    a = 0;
    b = xs.reduce((s, x, i) => s + x * ys[i]!, 0) / xs.reduce((s, x) => s + x * x, 0);
  }
  return { a, b: Math.max(0, b) };
}

/** A 1024×1024 8-bit PNG made of 16 val images of 256×256 (real nuclei at a realistic density). */
async function mosaicPng(files: readonly string[]): Promise<Uint8Array> {
  const out = new Uint8Array(1024 * 1024);
  for (let k = 0; k < 16; k++) {
    const raw = decodePng(await readFile(files[k % files.length]!));
    const [h, w] = raw.shape as [number, number];
    const c = raw.shape[2] ?? 1;
    const oy = Math.floor(k / 4) * 256;
    const ox = (k % 4) * 256;
    for (let y = 0; y < 256; y++)
      for (let x = 0; x < 256; x++)
        out[(oy + y) * 1024 + ox + x] = Number(raw.data[((y % h) * w + (x % w)) * c]!);
  }
  return encodePng({ data: out, dtype: 'uint8', shape: [1024, 1024], axes: 'YX' });
}

async function workerStartupSeconds(log: (m: string) => void): Promise<number> {
  const { startPrivateRedis } = await import('../../test/redis.js');
  const redis = await startPrivateRedis();
  const dir = await mkdtemp(join(tmpdir(), 'kiosk-measure-'));
  try {
    const times: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(REPO, 'workers', 'main.ts'), '--pool', 'cpu'],
        {
          cwd: REPO,
          env: {
            ...process.env,
            REDIS_URL: redis.url,
            KIOSK_BUCKET: join(dir, 'bucket'),
            KIOSK_PREFIX: `measure-${i}`,
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (s: string) => {
          if (s.includes('ready')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`worker exited with ${code} before ready`)));
      });
      times.push((performance.now() - t0) / 1000);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    log(`worker start-up (wall): ${times.map((t) => t.toFixed(2)).join(', ')} s`);
    return times.reduce((s, t) => s + t, 0) / times.length;
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Times the real stages; see the module comment. `log` gets one line per image. */
export async function measureStageCosts(log: (m: string) => void = () => undefined): Promise<StageCosts> {
  await initTfjs({ prefer: 'wasm' });
  const versions = existsSync(join(REPO, 'models/nuclear'))
    ? readdirSync(join(REPO, 'models/nuclear'))
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  const shipped = versions.at(-1);
  let modelDir: string;
  let card: ModelCard;
  let tmp: string | undefined;
  let modelNote: string;
  if (shipped && existsSync(join(REPO, 'models/nuclear', shipped, 'model.onnx'))) {
    modelDir = join(REPO, 'models/nuclear', shipped);
    card = await readModelCard(modelDir);
    modelNote = `models/nuclear/${shipped}`;
  } else {
    tmp = await mkdtemp(join(tmpdir(), 'kiosk-measure-model-'));
    modelDir = join(tmp, 'nuclear', '1');
    const model = buildNetwork();
    card = { ...testCard(), params: countParams(model) };
    await saveModel(model, modelDir, card);
    await exportModelDir(modelDir);
    model.dispose();
    modelNote = 'default buildNetwork() with random weights (no models/nuclear/<v>/model.onnx yet)';
  }
  log(`model: ${modelNote}`);
  const runner = await loadRunner(modelDir, { runtime: 'onnx', threads: 1 });
  const files = readdirSync(VAL)
    .filter((f) => f.endsWith('.image.png'))
    .sort()
    .map((f) => join(VAL, f));
  const bySize = new Map<string, string>();
  for (const f of files) {
    const raw = decodePng(await readFile(f));
    const key = `${raw.shape[0]}x${raw.shape[1]}`;
    if (!bySize.has(key)) bySize.set(key, f);
  }
  const small = files.filter((f) => bySize.get('256x256') === f || f.includes('dsb_')).slice(0, 16);
  const inputs: { name: string; bytes: Uint8Array }[] = [];
  for (const f of bySize.values()) inputs.push({ name: f.split('/').pop()!, bytes: await readFile(f) });
  inputs.push({ name: 'mosaic-1024x1024.png', bytes: await mosaicPng(small) });

  const opts = { maxPixels: 2 ** 28, micronsPerPixel: card.input.mpp };
  const samples: { mp: number; pre: number; predict: number; post: number }[] = [];
  // CPU time (process.cpuUsage, all threads) per stage: what the stage costs a dedicated core of this CPU;
  // wall time on a shared machine also counts other processes' load (it is logged alongside).
  const timed = async <T>(fn: () => T | Promise<T>): Promise<{ value: T; cpu: number; wall: number }> => {
    const c = process.cpuUsage();
    const t = performance.now();
    const value = await fn();
    const d = process.cpuUsage(c);
    return { value, cpu: (d.user + d.system) / 1e6, wall: (performance.now() - t) / 1000 };
  };
  for (const [i, input] of [inputs[0]!, ...inputs].entries()) {
    const pre = await timed(() => pipelineStages.preprocess(input.bytes, input.name, card as never, opts));
    const pred = await timed(() => pipelineStages.predict(pre.value, runner, card as never));
    const post = await timed(() =>
      pipelineStages.postprocess(pred.value, pre.value.meta, card as never, opts),
    );
    const mp = (post.value.height * post.value.width) / 1e6;
    if (i === 0) continue; // warm-up
    samples.push({ mp, pre: pre.cpu, predict: pred.cpu, post: post.cpu });
    log(
      `${input.name}: ${mp.toFixed(3)} MP — CPU s (wall s): preprocess ${pre.cpu.toFixed(3)} (${pre.wall.toFixed(3)}), ` +
        `predict ${pred.cpu.toFixed(3)} (${pred.wall.toFixed(3)}), postprocess ${post.cpu.toFixed(3)} (${post.wall.toFixed(3)})`,
    );
  }
  await runner.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });

  const xs = samples.map((s) => s.mp);
  const stage = (queue: string, pool: string, ys: number[]): StageCost => {
    const { a, b } = fitLine(xs, ys);
    return { queue, pool, secondsPerImage: round(a), secondsPerMegapixel: round(b) };
  };
  const startup = await workerStartupSeconds(log);
  return {
    format: COSTS_FORMAT,
    measured: {
      at: new Date().toISOString(),
      by: 'kiosk plan --measure (workers/planner/measure.ts)',
      machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)} at the end (shared machine)`,
      notes:
        `CPU time (process.cpuUsage) of pipelineStages on ${samples.length} images (${xs.map((x) => x.toFixed(2)).join(', ')} MP), one pass at the model's µm/px; ` +
        `model ${modelNote}; predict on onnxruntime-node CPU, 1 thread (no GPU here: the 'gpu' pool's cost is this CPU's, ` +
        `use --gpu-speedup or a file measured on a GPU node)`,
    },
    stages: [
      stage(
        'preprocess',
        'cpu',
        samples.map((s) => s.pre),
      ),
      stage(
        'predict',
        'gpu',
        samples.map((s) => s.predict),
      ),
      stage(
        'postprocess',
        'cpu',
        samples.map((s) => s.post),
      ),
    ],
    workerStartupSeconds: { cpu: round(startup), gpu: round(startup) },
  };
}

const round = (v: number) => Math.round(v * 1e5) / 1e5;
