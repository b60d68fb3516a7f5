/**
 * Inference speed of the nuclear network in each runtime available here:
 * - forward time of one 512x512 tile, and of a 1-megapixel image (1024x1024) cut into 256x256 tiles
 *   (overlap 32, the pipeline default) — onnxruntime-node with 1 and 2 threads, tfjs-wasm;
 * - whole `segmentImage` (preprocess + predict + deep watershed) per val image with the default runtime.
 * Uses models/nuclear/<latest> when present, else the default `buildNetwork()` with random weights (same
 * architecture and cost; its labels are meaningless). Prints one line per number; median of `REPS` runs
 * after one warm-up, as wall time and as process CPU time (the machine this was written on is shared, so wall
 * time includes waiting for a core; CPU time of a 1-thread run does not). Env: REPS (default 3), VAL_IMAGES
 * (default 20).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImageFile } from '../workers/image/files.js';
import { tileImage } from '../workers/image/tiling.js';
import { exportModelDir } from '../workers/model/export-model-dir.js';
import { readModelCard, saveModel, type ModelCard } from '../workers/model/model-io.js';
import { buildNetwork, countParams } from '../workers/model/network.js';
import { loadRunner, type ModelRunner } from '../workers/model/runners.js';
import { initTfjs } from '../workers/model/runtime.js';
import { predictTiles } from '../workers/pipeline/predict.js';
import { segmentImageDetailed } from '../workers/pipeline/segment.js';
import { testCard } from '../workers/pipeline/testing/precomputed-maps-runner.js';
import { NUCLEI_VAL } from '../test/data.js';

const REPS = Number(process.env.REPS ?? 3);
const VAL_IMAGES = Number(process.env.VAL_IMAGES ?? 20);
const VAL = NUCLEI_VAL;

/** Median wall time and median process CPU time (user + system, all threads) over REPS runs, in ms. */
async function median(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  const mid = (a: number[]): number => a.sort((x, y) => x - y)[a.length >> 1]!;
  return { wall: mid(wall), cpu: mid(cpu) };
}

const fmt = (t: { wall: number; cpu: number }): string =>
  `${t.wall.toFixed(0)} ms wall, ${t.cpu.toFixed(0)} ms CPU`;

function pattern(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.37));
}

async function main(): Promise<void> {
  const info = await initTfjs({ prefer: 'wasm' });
  const shipped = existsSync('models/nuclear')
    ? readdirSync('models/nuclear')
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(a) - Number(b))
        .pop()
    : undefined;
  let modelDir: string;
  let tmp: string | undefined;
  let card: ModelCard;
  if (shipped && existsSync(join('models/nuclear', shipped, 'model.onnx'))) {
    modelDir = join('models/nuclear', shipped);
    card = await readModelCard(modelDir);
    console.log(`model: ${modelDir} (${card.params} params)`);
  } else {
    tmp = await mkdtemp(join(tmpdir(), 'bench-inference-'));
    modelDir = join(tmp, 'nuclear', '1');
    const model = buildNetwork();
    card = { ...testCard(), params: countParams(model) };
    await saveModel(model, modelDir, card);
    await exportModelDir(modelDir);
    model.dispose();
    console.log(
      `model: default buildNetwork() with random weights (${card.params} params; no models/nuclear/<v>/model.onnx yet)`,
    );
  }
  console.log(`tfjs backend: ${info.backend} (${info.source}, ${info.threads ?? '?'} thread)`);
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${availableParallelism()} cores`,
  );

  const runners: [string, () => Promise<ModelRunner>][] = [
    ['onnxruntime-node 1 thread', () => loadRunner(modelDir, { runtime: 'onnx', threads: 1 })],
    ['onnxruntime-node 2 threads', () => loadRunner(modelDir, { runtime: 'onnx', threads: 2 })],
    ['tfjs-wasm', () => loadRunner(modelDir, { runtime: 'tfjs', tfjsPrefer: 'wasm' })],
  ];
  const tile512 = pattern(512 * 512);
  const mega = tileImage(
    { data: pattern(1024 * 1024), height: 1024, width: 1024, channels: 1 },
    { tileSize: 256, overlap: 32 },
  );
  for (const [label, open] of runners) {
    const runner = await open();
    const t512 = await median(() => runner.predict(tile512, 1, 512, 512, 1));
    console.log(`forward 512x512 tile, ${label}: ${fmt(t512)}`);
    const tMega = await median(() => predictTiles(runner, [mega], { batchSize: 4 }));
    console.log(`forward 1024x1024 image (${mega.count} tiles of 256, batch 4), ${label}: ${fmt(tMega)}`);
    await runner.dispose();
  }

  const files = readdirSync(VAL)
    .filter((f) => f.endsWith('.image.png'))
    .sort()
    .slice(0, VAL_IMAGES);
  for (const [label, open] of runners.slice(1, 2)) {
    const runner = await open();
    let total = 0;
    let cpuTotal = 0;
    let passes = 0;
    let pixels = 0;
    for (const f of files) {
      const raw = await readImageFile(join(VAL, f));
      const t = performance.now();
      const c = process.cpuUsage();
      const [r] = await segmentImageDetailed(raw, runner, card);
      total += performance.now() - t;
      const d = process.cpuUsage(c);
      cpuTotal += (d.user + d.system) / 1000;
      passes += r!.passes;
      pixels += raw.shape[0]! * raw.shape[1]!;
    }
    console.log(
      `segmentImage per val image, ${label}: ${(total / files.length).toFixed(0)} ms wall, ` +
        `${(cpuTotal / files.length).toFixed(0)} ms CPU mean over ${files.length} images ` +
        `(${(pixels / files.length / 1e3).toFixed(0)} kpx mean, ${(passes / files.length).toFixed(2)} passes mean)`,
    );
    await runner.dispose();
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
}

await main();
