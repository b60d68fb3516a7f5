/**
 * Nucleus-size estimate without µm/px (issue 22 #2, issue 19 #2), with the shipped model (models/nuclear/<latest>,
 * onnxruntime-node float, 2 threads):
 * 1. Estimate error against the truth (median equivalent diameter of the val labels, x the rescale factor) on
 *    val and on val rescaled x0.5 and x2: 'full' = maskDiameter of a full pass at scale 1 (the old first pass),
 *    'cheap' = the fg map of one pass on the image downsampled (cheapEstimate). Prints the median |error|,
 *    the share within 1.3x (the rescale tolerance), the worst ratio, and the cost of each estimate.
 * 2. Through the real pipeline (segmentImageDetailed, card defaults) on val and val x0.5, for each flow
 *    (old default; re-estimate on; cheap estimator + re-estimate): pooled F1@0.5, DSB (mean per image), network passes
 *    (full + cheap) and wall time per image.
 * 3. Test images with small, dense nuclei: each val image with >= DENSE_MIN nuclei, downscaled x0.5 and tiled
 *    2x2 (4x the nuclei, half their size; truth labels alike): per-image F1@0.5 of each flow.
 * Env: VAL_IMAGES (default all 68), RESCALED_STRIDE (the x0.5/x2 sets use every n-th val image, default 4), DENSE_MIN (default 40), DENSE_IMAGES (default 4). The machine may be shared:
 * times are wall clock of one run.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readImageFile, readLabelsFile } from '../workers/image/files.js';
import { poolScores, scoreImage, type Scores } from '../workers/image/metrics.js';
import { resizeBilinear, resizeNearest } from '../workers/image/resize.js';
import type { Labels, RawArray } from '../workers/image/types.js';
import { readModelCard, type ModelCard } from '../workers/model/model-io.js';
import { loadRunner, type ModelRunner } from '../workers/model/runners.js';
import { selectImages } from '../workers/pipeline/preprocess.js';
import { maskDiameter, medianDiameter } from '../workers/pipeline/scale.js';
import { cheapEstimate, segmentImageDetailed, type SegmentOptions } from '../workers/pipeline/segment.js';
import { NUCLEI_VAL } from '../test/data.js';

const VAL_IMAGES = Number(process.env.VAL_IMAGES ?? Infinity);
const DENSE_MIN = Number(process.env.DENSE_MIN ?? 40);
const DENSE_IMAGES = Number(process.env.DENSE_IMAGES ?? 4);
const RESCALED_STRIDE = Number(process.env.RESCALED_STRIDE ?? 4);
const MODEL = join(
  'models',
  'nuclear',
  readdirSync(join('models', 'nuclear')).sort((a, b) => Number(b) - Number(a))[0]!,
);

interface Sample {
  readonly name: string;
  readonly raw: RawArray;
  readonly truth: Labels;
}

/** The float image of `raw` rescaled by `f` (bilinear), as a float32 YXC array; the truth by nearest. */
function rescaled(s: Sample, card: ModelCard, f: number): Sample {
  const img = selectImages(s.raw, card)[0]!;
  const h = Math.max(1, Math.round(img.height * f));
  const w = Math.max(1, Math.round(img.width * f));
  const r = resizeBilinear(img, h, w);
  return {
    name: `${s.name}x${f}`,
    raw: { data: r.data, dtype: 'float32', shape: [h, w, r.channels], axes: 'YXC' },
    truth: resizeNearest(s.truth, h, w),
  };
}

/** 2x2 tiling of a sample (ids of each copy offset so they stay distinct). */
function tiled(s: Sample, card: ModelCard): Sample {
  const img = selectImages(s.raw, card)[0]!;
  const { height: h, width: w, channels: c } = img;
  const data = new Float32Array(4 * h * w * c);
  const labels = new Uint32Array(4 * h * w);
  let maxId = 0;
  for (const id of s.truth.data) maxId = Math.max(maxId, id);
  for (let q = 0; q < 4; q++) {
    const oy = (q >> 1) * h;
    const ox = (q & 1) * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (oy + y) * 2 * w + ox + x;
        for (let k = 0; k < c; k++) data[o * c + k] = img.data[(y * w + x) * c + k]!;
        const id = s.truth.data[y * w + x]!;
        labels[o] = id ? id + q * maxId : 0;
      }
    }
  }
  return {
    name: `${s.name} dense`,
    raw: { data, dtype: 'float32', shape: [2 * h, 2 * w, c], axes: 'YXC' },
    truth: { data: labels, height: 2 * h, width: 2 * w },
  };
}

const countObjects = (l: Labels): number => new Set(l.data).size - (l.data.includes(0) ? 1 : 0);

function errorLine(ratios: number[]): string {
  const abs = ratios.map((r) => Math.abs(Math.log(r))).sort((a, b) => a - b);
  const med = Math.exp(abs[abs.length >> 1]!) - 1;
  const within = ratios.filter((r) => r <= 1.3 && r >= 1 / 1.3).length;
  const worst = ratios.reduce((a, r) => (Math.abs(Math.log(r)) > Math.abs(Math.log(a)) ? r : a), 1);
  return `median |error| ${(100 * med).toFixed(1)} %, within 1.3x ${within}/${ratios.length}, worst ratio ${worst.toFixed(2)}`;
}

async function estimateErrors(runner: ModelRunner, card: ModelCard, samples: Sample[], label: string) {
  const full: number[] = [];
  const cheap: number[] = [];
  let fullMs = 0;
  let cheapMs = 0;
  let fullMissing = 0;
  let cheapMissing = 0;
  for (const s of samples) {
    const truth = medianDiameter(s.truth);
    if (truth === undefined) continue;
    let t = performance.now();
    const [r] = await segmentImageDetailed(s.raw, runner, card, { scale: 1 });
    const f = maskDiameter(r!.labels);
    fullMs += performance.now() - t;
    if (f && f.components >= 3) full.push(f.diameter / truth);
    else fullMissing++;
    t = performance.now();
    const image = selectImages(s.raw, card)[0]!;
    const c = await cheapEstimate(image, 0, runner, card, {});
    cheapMs += performance.now() - t;
    if (c) cheap.push(c.diameter / truth);
    else cheapMissing++;
  }
  const n = samples.length;
  console.log(
    `estimate error, ${label}, full pass at scale 1 (old): ${errorLine(full)}, no estimate ${fullMissing}; ${(fullMs / n).toFixed(0)} ms/image`,
  );
  console.log(
    `estimate error, ${label}, cheap pass (new): ${errorLine(cheap)}, no estimate ${cheapMissing}; ${(cheapMs / n).toFixed(0)} ms/image`,
  );
}

const FLOWS: [string, SegmentOptions][] = [
  ['full (old default)', { sizeEstimate: 'full', reestimate: false }],
  ['full + re-estimate', { sizeEstimate: 'full', reestimate: true }],
  ['cheap + re-estimate', { sizeEstimate: 'cheap', reestimate: true }],
];

async function pipeline(runner: ModelRunner, card: ModelCard, samples: Sample[], label: string) {
  for (const [name, opts] of FLOWS) {
    const scores: Scores[] = [];
    let passes = 0;
    let estimatePasses = 0;
    let ms = 0;
    for (const s of samples) {
      const t = performance.now();
      const [r] = await segmentImageDetailed(s.raw, runner, card, opts);
      ms += performance.now() - t;
      passes += r!.passes;
      estimatePasses += r!.estimatePasses ?? 0;
      scores.push(scoreImage(r!.labels, s.truth));
    }
    const p = poolScores(scores);
    const n = samples.length;
    console.log(
      `pipeline, ${label}, ${name}: F1@0.5 ${p.f1_50.toFixed(4)}, DSB ${p.meanPerImage.dsb.toFixed(4)} (mean per image), ` +
        `${((passes + estimatePasses) / n).toFixed(2)} passes/image (${(passes / n).toFixed(2)} full + ${(estimatePasses / n).toFixed(2)} cheap), ` +
        `${(ms / n).toFixed(0)} ms/image over ${n} images`,
    );
  }
}

async function dense(runner: ModelRunner, card: ModelCard, samples: Sample[]) {
  const picked = samples
    .map((s) => ({ s, n: countObjects(s.truth) }))
    .filter((x) => x.n >= DENSE_MIN)
    .sort((a, b) => b.n - a.n)
    .slice(0, DENSE_IMAGES);
  for (const { s } of picked) {
    const d = tiled(rescaled(s, card, 0.5), card);
    const parts: string[] = [];
    for (const [name, opts] of FLOWS) {
      const [r] = await segmentImageDetailed(d.raw, runner, card, opts);
      const sc = scoreImage(r!.labels, d.truth);
      parts.push(
        `${name} F1 ${sc.at50.f1.toFixed(3)} (scale ${r!.scale.toFixed(2)}, ${r!.passes}+${r!.estimatePasses ?? 0} passes)`,
      );
    }
    console.log(
      `small dense test image ${d.name} (${d.truth.height}x${d.truth.width}, ${countObjects(d.truth)} nuclei, median diameter ${medianDiameter(d.truth)!.toFixed(1)} px): ${parts.join('; ')}`,
    );
  }
}

async function main(): Promise<void> {
  const card = await readModelCard(MODEL);
  const runner = await loadRunner(MODEL, { runtime: 'onnx', threads: 2, int8: 'off' });
  console.log(
    `model ${MODEL} (${runner.runtime}, float, 2 threads), targetDiameterPx ${card.input.targetDiameterPx}`,
  );
  const files = readdirSync(NUCLEI_VAL)
    .filter((f) => f.endsWith('.image.png'))
    .sort()
    .slice(0, VAL_IMAGES);
  const val: Sample[] = [];
  for (const f of files) {
    val.push({
      name: f.replace('.image.png', ''),
      raw: await readImageFile(join(NUCLEI_VAL, f)),
      truth: await readLabelsFile(join(NUCLEI_VAL, f.replace('.image.png', '.labels.png'))),
    });
  }
  // The rescaled sets: every RESCALED_STRIDE-th val image (x2 full passes cost 4x a val image's).
  const some = val.filter((_, i) => i % RESCALED_STRIDE === 0);
  const half = some.map((s) => rescaled(s, card, 0.5));
  const double = some.map((s) => rescaled(s, card, 2));
  await segmentImageDetailed(val[0]!.raw, runner, card); // warm-up
  await estimateErrors(runner, card, val, 'val');
  await estimateErrors(runner, card, half, 'val x0.5');
  await estimateErrors(runner, card, double, 'val x2');
  await pipeline(runner, card, val, 'val');
  await pipeline(runner, card, half, 'val x0.5');
  await dense(runner, card, val);
  await runner.dispose();
}

await main();
