/**
 * 3-D segmentation with the shipped 2-D nuclear model (models/nuclear/<latest>, ONNX): a synthetic ZYX stack of
 * ellipsoids is segmented plane by plane at one scale and stitched; scored by 3-D IoU against its truth.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scoreImage } from '../image/metrics.js';
import { volumeAsLabels } from '../image/stitch.js';
import { randomEllipsoids, renderEllipsoidStack } from '../image/synthetic-nuclei.js';
import { readModelCard, type ModelCard } from '../model/model-io.js';
import { loadRunner, type ModelRunner } from '../model/runners.js';
import { segmentVolume } from './volume.js';

const versions = existsSync('models/nuclear')
  ? readdirSync('models/nuclear').filter((v) => /^\d+$/.test(v))
  : [];
const latest = versions.sort((a, b) => Number(a) - Number(b)).pop();
const modelDir =
  process.env.NUCLEAR_MODEL_DIR ?? (latest === undefined ? undefined : join('models/nuclear', latest));

describe.runIf(modelDir !== undefined && existsSync(join(modelDir, 'model.onnx')))('segmentVolume', () => {
  let card: ModelCard;
  let runner: ModelRunner;
  beforeAll(async () => {
    card = await readModelCard(modelDir!);
    runner = await loadRunner(modelDir!, { runtime: 'onnx', threads: 2 });
  });

  it('segments a synthetic ZYX stack of ellipsoids into 3-D labels (F1@0.5 by 3-D IoU >= 0.8)', async () => {
    const [Z, H, W] = [12, 128, 128];
    const e = randomEllipsoids(14, Z, H, W, { minR: 8, maxR: 11, zScale: 0.45, seed: 4 });
    const { raw, truth } = renderEllipsoidStack(e, Z, H, W, 5);
    const r = await segmentVolume(raw, runner, card);
    expect(r.volume.depth).toBe(Z);
    expect(r.scalePlane).toBeGreaterThanOrEqual(0);
    const s = scoreImage(volumeAsLabels(r.volume), volumeAsLabels(truth));
    console.log(
      `3-D: ${s.nTruth} nuclei, ${s.nPred} found, F1@0.5 ${s.f1_50.toFixed(3)}, scale ${r.scale.toFixed(2)}, ${r.passes} passes`,
    );
    expect(s.f1_50).toBeGreaterThanOrEqual(0.8);
  }, 60_000);

  it('refuses a time series and a single plane with the reason', async () => {
    const plane = { data: new Uint16Array(64 * 64), dtype: 'uint16' as const, shape: [64, 64], axes: 'YX' };
    await expect(segmentVolume(plane, runner, card)).rejects.toThrow(
      /needs a stack of z planes .* \(1 plane\)/,
    );
    const series = {
      data: new Uint16Array(2 * 3 * 64 * 64),
      dtype: 'uint16' as const,
      shape: [2, 3, 64, 64],
      axes: 'TZYX',
    };
    await expect(segmentVolume(series, runner, card)).rejects.toThrow(
      /2 time points .* send each time point on its own/,
    );
  });
});
