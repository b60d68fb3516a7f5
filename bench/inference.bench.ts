/**
 * Inference speed of the nuclear network in each runtime available here:
 * - forward time of one 512x512 tile, and of a 1-megapixel image (1024x1024) cut into 256x256 tiles
 *   (overlap 32, the pipeline default) — onnxruntime-node with 1 and 2 threads, tfjs-wasm;
 * - the int8 copy (model.int8.onnx, workers/model/quantize*.ts) against the float model, onnxruntime-node with 2
 *   threads: forward time of the 1-Mpx image, and through the real pipeline (`segmentImage`: preprocess +
 *   predict + deep watershed) on the val images: time per image and val accuracy (F1@0.5, DSB) of both. When
 *   the model folder has no int8 copy whose card records a passed gate, one is made in a temp folder first
 *   (calibration on every INT8_STRIDE-th training image, default 8), so the numbers are always of a real copy;
 * - what `loadRunner`'s int8 'auto' check picks on this machine.
 * Uses models/nuclear/<latest> when present, else the default `buildNetwork()` with random weights (same
 * architecture and cost; its labels are meaningless). Prints one line per number; median of `REPS` runs
 * after one warm-up, as wall time and as process CPU time (the machine this was written on is shared, so wall
 * time includes waiting for a core; CPU time of a 1-thread run does not). Env: REPS (default 3), VAL_IMAGES
 * (default all 68), INT8_STRIDE (default 8).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImageFile, readLabelsFile } from '../workers/image/files.js';
import { poolScores, scoreImage, type Scores } from '../workers/image/metrics.js';
import { tileImage } from '../workers/image/tiling.js';
import { exportModelDir } from '../workers/model/export-model-dir.js';
import { readModelCard, saveModel, type ModelCard } from '../workers/model/model-io.js';
import { buildNetwork, countParams } from '../workers/model/network.js';
import { INT8_ONNX } from '../workers/model/quantize-card.js';
import { quantizeModelDir } from '../workers/model/quantize-model-dir.js';
import { int8Decision, int8Refusal, loadRunner, type ModelRunner } from '../workers/model/runners.js';
import { initTfjs } from '../workers/model/runtime.js';
import { predictTiles } from '../workers/pipeline/predict.js';
import { segmentImageDetailed } from '../workers/pipeline/segment.js';
import { testCard } from '../workers/pipeline/testing/precomputed-maps-runner.js';
import { NUCLEI_TRAIN, NUCLEI_VAL } from '../test/data.js';

const REPS = Number(process.env.REPS ?? 3);
const VAL_IMAGES = Number(process.env.VAL_IMAGES ?? Infinity);
const INT8_STRIDE = Number(process.env.INT8_STRIDE ?? 8);
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
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(' ') ?? [];
  const simd = ['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => flags.includes(f));
  console.log(
    `machine: this ${availableParallelism()}-core machine, ${cpus()[0]?.model ?? '?'} (${simd.join(', ') || 'no AVX2'}; ` +
      `no ${['avx512_vnni', 'avx_vnni'].filter((f) => !flags.includes(f)).join('/')})`,
  );
  console.log(`tfjs backend: ${info.backend} (${info.source}, ${info.threads ?? '?'} thread)`);
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${availableParallelism()} cores`,
  );

  // The int8 copy: the folder's own when its card records a passed gate for it, else one made now.
  let int8Dir = modelDir;
  const refusal = await int8Refusal(modelDir);
  if (refusal) {
    tmp ??= await mkdtemp(join(tmpdir(), 'bench-inference-'));
    int8Dir = join(tmp, 'int8');
    await rm(int8Dir, { recursive: true, force: true });
    await mkdir(int8Dir, { recursive: true });
    for (const f of ['model.onnx', 'card.json']) await copyFile(join(modelDir, f), join(int8Dir, f));
    console.log(
      `int8 copy: none usable in ${modelDir} (${refusal}); making one (every ${INT8_STRIDE}th training image)`,
    );
    const t = performance.now();
    const r = await quantizeModelDir(int8Dir, {
      trainDir: NUCLEI_TRAIN,
      valDir: VAL,
      calibrationStride: INT8_STRIDE,
      threads: 2,
      outDir: int8Dir,
      log: (line) => console.log(`  ${line}`),
    });
    if (!r.passed) {
      // Not written by quantizeModelDir (gate failed): write it here so its cost can still be measured.
      await writeFile(join(int8Dir, INT8_ONNX), r.bytes);
    }
    console.log(`  made in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  const int8Card = (card['int8'] ?? (await readModelCard(int8Dir))['int8']) as
    { calibration?: { method?: string; images?: number; weightBits?: number } } | undefined;
  console.log(
    `int8 copy: ${join(int8Dir, INT8_ONNX)}${int8Card?.calibration ? ` (${int8Card.calibration.method}, ${int8Card.calibration.images} calibration images, ${int8Card.calibration.weightBits}-bit weights)` : ''}`,
  );

  const runners: [string, () => Promise<ModelRunner>][] = [
    ['onnxruntime-node 1 thread', () => loadRunner(modelDir, { runtime: 'onnx', threads: 1, int8: 'off' })],
    ['onnxruntime-node 2 threads', () => loadRunner(modelDir, { runtime: 'onnx', threads: 2, int8: 'off' })],
    [
      'onnxruntime-node int8 1 thread',
      () => loadRunner(int8Dir, { runtime: 'onnx', threads: 1, int8: 'on' }),
    ],
    [
      'onnxruntime-node int8 2 threads',
      () => loadRunner(int8Dir, { runtime: 'onnx', threads: 2, int8: 'on' }),
    ],
    ['tfjs-wasm', () => loadRunner(modelDir, { runtime: 'tfjs', tfjsPrefer: 'wasm' })],
  ];
  const tile512 = pattern(512 * 512);
  const mega = tileImage(
    { data: pattern(1024 * 1024), height: 1024, width: 1024, channels: 1 },
    { tileSize: 256, overlap: 32 },
  );
  const megaCost = new Map<string, { wall: number; cpu: number }>();
  for (const [label, open] of runners) {
    const runner = await open();
    const t512 = await median(() => runner.predict(tile512, 1, 512, 512, 1));
    console.log(`forward 512x512 tile, ${label}: ${fmt(t512)}`);
    const tMega = await median(() => predictTiles(runner, [mega], { batchSize: 4 }));
    megaCost.set(label, tMega);
    console.log(`forward 1024x1024 image (${mega.count} tiles of 256, batch 4), ${label}: ${fmt(tMega)}`);
    await runner.dispose();
  }
  for (const threads of ['1 thread', '2 threads']) {
    const f = megaCost.get(`onnxruntime-node ${threads}`)!;
    const q = megaCost.get(`onnxruntime-node int8 ${threads}`)!;
    console.log(
      `cost per 1-Mpx image, ${threads}: float ${f.wall.toFixed(0)} ms wall (${f.cpu.toFixed(0)} ms CPU), ` +
        `int8 ${q.wall.toFixed(0)} ms wall (${q.cpu.toFixed(0)} ms CPU): int8 ${(f.wall / q.wall).toFixed(2)}x wall, ${(f.cpu / q.cpu).toFixed(2)}x CPU`,
    );
  }
  {
    const auto = await loadRunner(int8Dir, { runtime: 'onnx', threads: 2, int8: 'auto' });
    const d = int8Decision(int8Dir, 2);
    console.log(`int8 'auto' at load, 2 threads: serves ${auto.runtime} (${d?.reason ?? '?'})`);
    await auto.dispose();
  }

  const files = readdirSync(VAL)
    .filter((f) => f.endsWith('.image.png'))
    .sort()
    .slice(0, VAL_IMAGES);
  for (const [label, open] of [runners[1]!, runners[3]!]) {
    const runner = await open();
    let total = 0;
    let cpuTotal = 0;
    let passes = 0;
    let pixels = 0;
    const scores: Scores[] = [];
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
      scores.push(
        scoreImage(r!.labels, await readLabelsFile(join(VAL, f.replace('.image.png', '.labels.png')))),
      );
    }
    const p = poolScores(scores);
    console.log(
      `segmentImage per val image, ${label}: ${(total / files.length).toFixed(0)} ms wall, ` +
        `${(cpuTotal / files.length).toFixed(0)} ms CPU mean over ${files.length} images ` +
        `(${(pixels / files.length / 1e3).toFixed(0)} kpx mean, ${(passes / files.length).toFixed(2)} passes mean)`,
    );
    console.log(
      `val accuracy, ${label} (${runner.runtime}): F1@0.5 ${p.f1_50.toFixed(4)}, DSB ${p.meanPerImage.dsb.toFixed(4)} ` +
        `(mean per image; pooled ${p.dsb.toFixed(4)}) over ${files.length} images`,
    );
    await runner.dispose();
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
}

await main();
