/**
 * 3-D segmentation with the shipped 2-D nuclear model (issue 21 #4): ZYX stacks segmented plane by plane at
 * one scale and stitched across z (workers/pipeline/volume.ts), scored by 3-D IoU (F1@0.5 and DSB over the
 * voxel sets). Stacks: synthetic ellipsoids (sparse and crowded, two z-anisotropies) with known labels, and
 * real val images stacked into columns (each nucleus a cylinder through 6 planes of varying brightness and
 * noise), whose 3-D truth is the val labels repeated. Prints one line per stack.
 * Env: NUCLEAR_MODEL_DIR (default models/nuclear/<latest>).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readImageFile, readLabelsFile } from '../workers/image/files.js';
import { scoreImage } from '../workers/image/metrics.js';
import { volumeAsLabels, type LabelVolume } from '../workers/image/stitch.js';
import { randomEllipsoids, renderEllipsoidStack, seededRandom } from '../workers/image/synthetic-nuclei.js';
import type { RawArray } from '../workers/image/types.js';
import { readModelCard } from '../workers/model/model-io.js';
import { loadRunner } from '../workers/model/runners.js';
import { segmentVolume } from '../workers/pipeline/volume.js';
import { NUCLEI_VAL } from '../test/data.js';

const versions = existsSync('models/nuclear')
  ? readdirSync('models/nuclear').filter((v) => /^\d+$/.test(v))
  : [];
const latest = versions.sort((a, b) => Number(a) - Number(b)).pop();
const modelDir = process.env.NUCLEAR_MODEL_DIR ?? (latest && join('models/nuclear', latest));
if (!modelDir) throw new Error('no model: set NUCLEAR_MODEL_DIR or commit models/nuclear/<v>');
const card = await readModelCard(modelDir);
const runner = await loadRunner(modelDir, { runtime: 'onnx', threads: 2 });
console.log(`model ${modelDir}; onnxruntime-node, 2 threads, this machine`);

async function run(name: string, raw: RawArray, truth: LabelVolume): Promise<void> {
  const t0 = performance.now();
  const r = await segmentVolume(raw, runner, card);
  const ms = performance.now() - t0;
  const s = scoreImage(volumeAsLabels(r.volume), volumeAsLabels(truth));
  console.log(
    `${name}: ${truth.depth}x${truth.height}x${truth.width}, ${s.nTruth} nuclei, ${s.nPred} found, ` +
      `F1@0.5 ${s.f1_50.toFixed(3)}, DSB ${s.dsb.toFixed(3)} (3-D IoU); scale ${r.scale.toFixed(2)}, ` +
      `${r.passes} passes, ${(ms / 1000).toFixed(1)} s (${(ms / truth.depth).toFixed(0)} ms/plane)`,
  );
}

for (const [name, count, zScale, seed] of [
  ['ellipsoids sparse, z step = px', 25, 1, 1],
  ['ellipsoids crowded, z step = px', 80, 1, 2],
  ['ellipsoids crowded, z step = 2 px', 80, 0.5, 3],
] as const) {
  const [Z, H, W] = [zScale === 1 ? 28 : 16, 192, 192];
  const e = randomEllipsoids(count, Z, H, W, { minR: 7, maxR: 12, zScale, seed });
  const { raw, truth } = renderEllipsoidStack(e, Z, H, W, seed + 10);
  await run(name, raw, truth);
}

// Real slices stacked: a val image repeated over 6 planes, each with its own gain and noise.
const files = readdirSync(NUCLEI_VAL)
  .filter((f) => f.endsWith('.image.png'))
  .sort()
  .filter((_, i) => i % 17 === 0);
for (const f of files) {
  const img = await readImageFile(join(NUCLEI_VAL, f));
  const labels = await readLabelsFile(join(NUCLEI_VAL, f.replace('.image.png', '.labels.png')));
  const { height: H, width: W } = labels;
  const channels = img.data.length / (H * W);
  const Z = 6;
  const rand = seededRandom(7);
  const data = new Float32Array(Z * H * W);
  for (let z = 0; z < Z; z++) {
    const gain = 0.6 + 0.8 * rand();
    for (let i = 0; i < H * W; i++) data[z * H * W + i] = gain * img.data[i * channels]! + 3 * (rand() - 0.5);
  }
  const truth = new Uint32Array(Z * H * W);
  for (let z = 0; z < Z; z++) truth.set(labels.data, z * H * W);
  await run(
    `val ${f.replace('.image.png', '')} stacked x${Z}`,
    { data, dtype: 'float32', shape: [Z, H, W], axes: 'ZYX' },
    { data: truth, depth: Z, height: H, width: W },
  );
}
