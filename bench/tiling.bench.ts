/**
 * Tiles, batches and threads sized to the machine (issue 22 #3): the served model (models/nuclear/<latest>,
 * onnxruntime-node on the CPU, the copy `loadRunner` serves: int8 where KIOSK_INT8 'auto' picks it) runs over
 * one synthetic image cut by the pipeline's own code (prepareTiles, overlap 32) for a grid of tile size x
 * batch (tiles per model call) x intra-op threads, through predictBatches, the stage `kiosk segment` and the
 * service call. Forward pass only (tiling and watershed are in `npm run bench image-core`).
 * For each point: tiles per image, tile px per image px (the overlap's extra work), and per megapixel of
 * IMAGE: process CPU time (user + system of all threads; onnxruntime threads do not spin, so CPU time is
 * work, not waiting) and wall time, the least of --reps runs after one warm-up (other processes only ever
 * add to a run's time). On a shared machine the wall
 * time includes waiting for a core: compare CPU times. Then what `inferenceSettings(cores)` picks here and
 * for 16 cores (workers/pipeline/inference-settings.ts).
 * With --val N (default 0: off, it takes minutes): the first N val images through the whole pipeline
 * (segmentImageDetailed, autoscale, default batch) at each of --val-tiles, with `cores` threads: CPU time per
 * image and val accuracy (F1@0.5, DSB mean per image), so a tile size is chosen on cost AND labels.
 * Run: npm run bench tiling [-- --size 1024 --tiles 256,512,fit --batches 1,4 --threads 1,2 --reps 2
 *   --val 68 --val-tiles 256,384]
 */
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Image } from '../workers/image/types.js';
import { readImageFile, readLabelsFile } from '../workers/image/files.js';
import { poolScores, scoreImage, type Scores } from '../workers/image/metrics.js';
import { readModelCard } from '../workers/model/model-io.js';
import { loadRunner, type ModelRunner } from '../workers/model/runners.js';
import { fitTileSize, inferenceSettings } from '../workers/pipeline/inference-settings.js';
import { predictBatches } from '../workers/pipeline/predict.js';
import { prepareTiles } from '../workers/pipeline/preprocess.js';
import { segmentImageDetailed } from '../workers/pipeline/segment.js';
import { NUCLEI_VAL } from '../test/data.js';

const { values: v } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    tiles: { type: 'string', default: '256,512,fit' },
    batches: { type: 'string', default: '1,4' },
    threads: { type: 'string', default: '' },
    reps: { type: 'string', default: '2' },
    overlap: { type: 'string', default: '32' },
    val: { type: 'string', default: '0' },
    'val-tiles': { type: 'string', default: '256,fit' },
  },
});
const list = (s: string): number[] => s.split(',').filter(Boolean).map(Number);
const cores = availableParallelism();
const SIZE = Number(v.size);
const REPS = Number(v.reps);
const OVERLAP = Number(v.overlap);
// 'fit': the side the pipeline picks for this image by default (fitTileSize).
const tileOf = (t: string, h: number, w: number): number =>
  t === 'fit' ? fitTileSize(h, w, OVERLAP, 16) : Number(t);
const TILES = v.tiles!.split(',').map((t) => tileOf(t, SIZE, SIZE));
const BATCHES = list(v.batches!);
const THREADS = v.threads ? list(v.threads) : [...new Set([1, cores])];

const versions = readdirSync('models/nuclear').filter((d) => /^\d+$/.test(d));
const modelDir = join('models/nuclear', versions.sort((a, b) => Number(a) - Number(b)).pop()!);
if (!existsSync(join(modelDir, 'model.onnx'))) throw new Error(`${modelDir} has no model.onnx`);
const card = await readModelCard(modelDir);

// A smooth pattern with blobs; the network's cost does not depend on the pixel values.
const data = new Float32Array(SIZE * SIZE);
for (let y = 0; y < SIZE; y++)
  for (let x = 0; x < SIZE; x++)
    data[y * SIZE + x] = 100 + 80 * Math.sin(x / 9) * Math.cos(y / 11) + ((x * 7 + y * 13) % 17);
const image: Image = { data, height: SIZE, width: SIZE, channels: 1 };
const mpx = (SIZE * SIZE) / 1e6;

console.log(
  `machine: ${cores} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0]!.toFixed(1)}, ` +
    `node ${process.version}, ${new Date().toISOString()}`,
);
console.log(
  `image ${SIZE}x${SIZE} (${mpx.toFixed(3)} Mpx), overlap ${OVERLAP}, least of ${REPS} reps after 1 warm-up`,
);

const least = (a: number[]): number => Math.min(...a);
interface Row {
  tile: number;
  batch: number;
  threads: number;
  cpuPerMpx: number;
  wallPerMpx: number;
}
const rows: Row[] = [];
for (const threads of THREADS) {
  const runner = await loadRunner(modelDir, { runtime: 'onnx', threads, spin: false });
  console.log(`\n${runner.runtime}, ${threads} intra-op thread(s), no spinning`);
  console.log('tile  batch  tiles  tile px/img px  CPU ms/Mpx  wall ms/Mpx');
  for (const tile of TILES) {
    const { tiles } = prepareTiles(image, card, 1, { tileSize: tile, overlap: Math.min(OVERLAP, tile / 2) });
    for (const batch of BATCHES) {
      const run = () => predictBatches(runner, [tiles], { batchSize: batch, tta: 1 });
      await run();
      const cpu: number[] = [];
      const wall: number[] = [];
      for (let r = 0; r < REPS; r++) {
        const c = process.cpuUsage();
        const t = performance.now();
        await run();
        wall.push(performance.now() - t);
        const d = process.cpuUsage(c);
        cpu.push((d.user + d.system) / 1000);
      }
      const row = { tile, batch, threads, cpuPerMpx: least(cpu) / mpx, wallPerMpx: least(wall) / mpx };
      rows.push(row);
      console.log(
        `${String(tile).padStart(4)}  ${String(batch).padStart(5)}  ${String(tiles.count).padStart(5)}  ` +
          `${((tiles.count * tile * tile) / (SIZE * SIZE)).toFixed(2).padStart(14)}  ` +
          `${row.cpuPerMpx.toFixed(0).padStart(10)}  ${row.wallPerMpx.toFixed(0).padStart(11)}`,
      );
    }
  }
  await runner.dispose();
}

const best = (rs: Row[], key: 'cpuPerMpx' | 'wallPerMpx'): Row =>
  rs.reduce((a, b) => (b[key] < a[key] ? b : a));
console.log('\nlowest CPU time per Mpx, by threads:');
for (const threads of THREADS) {
  const b = best(
    rows.filter((r) => r.threads === threads),
    'cpuPerMpx',
  );
  console.log(
    `  ${threads} thread(s): tile ${b.tile}, batch ${b.batch}: ${b.cpuPerMpx.toFixed(0)} ms CPU/Mpx`,
  );
}
for (const n of [cores, 16]) {
  const s = inferenceSettings(n);
  console.log(`inferenceSettings(${n}): ${JSON.stringify(s)}`);
}

const VAL_N = Number(v.val);
if (VAL_N > 0) {
  const files = readdirSync(NUCLEI_VAL)
    .filter((f) => f.endsWith('.image.png'))
    .sort()
    .slice(0, VAL_N);
  const runner = await loadRunner(modelDir, { runtime: 'onnx', threads: cores, spin: false });
  console.log(`\nval: ${files.length} images, whole pipeline, ${runner.runtime}, ${cores} threads`);
  // Counts the tile pixels the network really ran (after autoscale's rescaling, every pass).
  let tilePx = 0;
  const counting: ModelRunner = Object.assign(Object.create(runner) as ModelRunner, {
    predict: (b: Float32Array, n: number, h: number, w: number, c: number) => {
      tilePx += n * h * w;
      return runner.predict(b, n, h, w, c);
    },
  });
  for (const choice of v['val-tiles']!.split(',')) {
    let cpuMs = 0;
    let px = 0;
    tilePx = 0;
    const scores: Scores[] = [];
    for (const f of files) {
      const raw = await readImageFile(join(NUCLEI_VAL, f));
      const opts = choice === 'fit' ? {} : { tileSize: Number(choice) };
      const c = process.cpuUsage();
      const [r] = await segmentImageDetailed(raw, counting, card, opts);
      const d = process.cpuUsage(c);
      cpuMs += (d.user + d.system) / 1000;
      px += raw.shape[0]! * raw.shape[1]!;
      const truth = await readLabelsFile(join(NUCLEI_VAL, f.replace('.image.png', '.labels.png')));
      scores.push(scoreImage(r!.labels, truth));
    }
    const p = poolScores(scores);
    console.log(
      `tile ${choice}: ${(cpuMs / files.length).toFixed(0)} ms CPU per image, ` +
        `${((cpuMs / px) * 1e6).toFixed(0)} ms CPU/Mpx, network ran ${(tilePx / px).toFixed(2)} tile px per image px ` +
        `(all passes), F1@0.5 ${p.f1_50.toFixed(4)}, DSB ${p.meanPerImage.dsb.toFixed(4)}`,
    );
  }
  await runner.dispose();
}
