/**
 * Scores a nuclear model folder on val through the code path `kiosk segment` uses (segmentImageDetailed with
 * the card's settings: autoscale on, fitted tiles, onnxruntime-node float, deep watershed), and measures its
 * cost per 1-Mpx image (issue 19: v1 at 14 px against v2 at 20 px):
 *
 *   nice -n 10 node --import tsx scripts/eval-nuclear-val.ts --model train-runs/nuclear-v2/candidate \
 *     [--postprocess /tmp/tune-v2.json] [--label v2-best] [--val ../shared/data/nuclei/val] [--reps 5] \
 *     [--out result.json] [--grid-only]
 *
 * --postprocess FILE takes `settings` from bench/watershed-tuning.bench.ts's KIOSK_TUNE_OUT JSON and puts them
 * into the card's postprocess (in memory; the folder is not changed).
 * Accuracy: F1@0.5 pooled over images and the DSB score (mean per image of the mean over IoU 0.5..0.95 of
 * TP/(TP+FP+FN)), by workers/image/metrics.ts against the val label files.
 * Cost: (a) the whole val set: total process CPU time (user + system, both onnxruntime threads) and wall time
 * per Mpx of input; (b) one 1024x1024 image — a 4x4 grid of the first 16 256x256 val images, the input of
 * bench/api-latency.bench.ts — through segmentImageDetailed, median of --reps runs after one warm-up.
 * CPU time is the figure to compare on a shared machine (wall time includes waiting for a core).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gridImage } from '../bench/api-latency-input.js';
import { readImageFile, readLabelsFile } from '../workers/image/files.js';
import { poolScores, scoreImage, type Scores } from '../workers/image/metrics.js';
import type { RawArray } from '../workers/image/types.js';
import { readModelCard, type ModelCard, type ModelPostprocess } from '../workers/model/model-io.js';
import { loadRunner } from '../workers/model/runners.js';
import { segmentImageDetailed } from '../workers/pipeline/segment.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    postprocess: { type: 'string' },
    label: { type: 'string' },
    val: { type: 'string', default: '../shared/data/nuclei/val' },
    reps: { type: 'string', default: '5' },
    out: { type: 'string' },
    // Only the 1-Mpx cost (b), e.g. to interleave runs of two models on a loaded machine.
    'grid-only': { type: 'boolean', default: false },
  },
  strict: true,
});
if (!values.model) throw new Error('--model DIR is required (a model folder: card.json, model.onnx)');
const reps = Number(values.reps);
if (!Number.isInteger(reps) || reps < 1)
  throw new Error(`--reps must be an integer >= 1; got '${values.reps}'`);

const cpuMs = (d: NodeJS.CpuUsage): number => (d.user + d.system) / 1000;

let card: ModelCard = await readModelCard(values.model);
let postprocessSource = `card.json of ${values.model}`;
if (values.postprocess) {
  const tuned = JSON.parse(readFileSync(values.postprocess, 'utf8')) as {
    settings: Record<string, unknown>;
    tunedOn?: string;
  };
  card = { ...card, postprocess: { method: 'deep-watershed', ...tuned.settings } as ModelPostprocess };
  postprocessSource = `${values.postprocess} (tuned on ${tuned.tunedOn ?? '?'})`;
}
const label = values.label ?? values.model;
const runner = await loadRunner(values.model, { runtime: 'onnx', threads: 2, int8: 'off' });
console.log(
  `${label}: ${values.model} at ${card.input.targetDiameterPx} px, runtime ${runner.runtime}; post-processing ` +
    `${JSON.stringify(card.postprocess)} from ${postprocessSource}`,
);

const names = readdirSync(values.val)
  .filter((f) => f.endsWith('.image.png'))
  .sort();
const scores: Scores[] = [];
let cpu = 0;
let wall = 0;
let pixels = 0;
let passes = 0;
for (const f of values['grid-only'] ? [] : names) {
  const raw = await readImageFile(join(values.val, f));
  const truth = await readLabelsFile(join(values.val, f.replace('.image.png', '.labels.png')));
  const c = process.cpuUsage();
  const t = performance.now();
  const [r] = await segmentImageDetailed(raw, runner, card);
  wall += performance.now() - t;
  cpu += cpuMs(process.cpuUsage(c));
  pixels += raw.shape[0]! * raw.shape[1]!;
  passes += r!.passes;
  scores.push(scoreImage(r!.labels, truth));
}
const p = scores.length > 0 ? poolScores(scores) : undefined;
const mpx = pixels / 1e6;
if (p)
  console.log(
    `${label} val (${names.length} images): F1@0.5 ${p.f1_50.toFixed(4)} (P ${p.precision_50.toFixed(3)} R ${p.recall_50.toFixed(3)}), ` +
      `DSB ${p.meanPerImage.dsb.toFixed(4)} (pooled ${p.dsb.toFixed(4)}); ${(cpu / mpx).toFixed(0)} ms CPU, ` +
      `${(wall / mpx).toFixed(0)} ms wall per input Mpx over ${mpx.toFixed(2)} Mpx; ${(passes / names.length).toFixed(2)} passes mean`,
  );

// One 1-Mpx image: a 4x4 grid of the first 16 grey 256x256 val images.
const tiles: RawArray[] = [];
for (const f of names) {
  const raw = await readImageFile(join(values.val, f));
  if (raw.axes === 'YX' && raw.shape[0] === 256 && raw.shape[1] === 256 && tiles.length < 16) tiles.push(raw);
}
const grid = gridImage(tiles, 4, 4);
const gridCpu: number[] = [];
const gridWall: number[] = [];
let gridScale = 0;
for (let i = 0; i <= reps; i++) {
  const c = process.cpuUsage();
  const t = performance.now();
  const [r] = await segmentImageDetailed(grid, runner, card);
  if (i === 0) {
    gridScale = r!.scale;
    continue; // warm-up
  }
  gridWall.push(performance.now() - t);
  gridCpu.push(cpuMs(process.cpuUsage(c)));
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
console.log(
  `${label} 1024x1024 val grid: median ${median(gridCpu).toFixed(0)} ms CPU, ${median(gridWall).toFixed(0)} ms wall ` +
    `over ${reps} runs (final scale ${gridScale.toFixed(3)})`,
);
await runner.dispose();

if (values.out && p) {
  const result = {
    label,
    model: values.model,
    targetDiameterPx: card.input.targetDiameterPx,
    postprocess: card.postprocess,
    postprocessSource,
    val: {
      images: names.length,
      f1_50: p.f1_50,
      precision_50: p.precision_50,
      recall_50: p.recall_50,
      dsb: p.meanPerImage.dsb,
      dsbPooled: p.dsb,
      passesMean: passes / names.length,
      cpuMsPerMpx: cpu / mpx,
      wallMsPerMpx: wall / mpx,
    },
    grid1Mpx: { cpuMsMedian: median(gridCpu), wallMsMedian: median(gridWall), reps, scale: gridScale },
    measuredAt: new Date().toISOString(),
  };
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
}
