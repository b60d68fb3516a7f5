/**
 * The int8 copy of the shipped nuclear model against the float one on real data: calibrated on two training
 * images through the real pipeline, then a val image segmented by both (segmentImageDetailed).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImageFile, readLabelsFile } from '../image/files.js';
import { matchInstances, scoreImage } from '../image/metrics.js';
import { prepareImage, selectImages } from '../pipeline/preprocess.js';
import { predictTiles } from '../pipeline/predict.js';
import { segmentImageDetailed } from '../pipeline/segment.js';
import { readModelCard, type ModelCard } from './model-io.js';
import { calibrationModel, CalibrationRunner, planQuantization, quantizeQdq } from './quantize.js';
import { OnnxRunner } from './runners.js';
import { NUCLEI_TRAIN, NUCLEI_VAL } from '../../test/data.js';

const MODEL = 'models/nuclear/1';
// Two small training images (256x256) for calibration and one val image with 60 nuclei.
const CALIBRATION = ['dsb_e321cfa987e77c21', 'dsb_16c3d5935ba94b72'];
const VAL_IMAGE = 'dsb_2227fd9b01d67c2b';

let card: ModelCard;
let float: OnnxRunner;
let int8: OnnxRunner;

beforeAll(async () => {
  card = await readModelCard(MODEL);
  const bytes = new Uint8Array(await readFile(join(MODEL, 'model.onnx')));
  const plan = planQuantization(bytes);
  const calib = await CalibrationRunner.create(calibrationModel(bytes, plan), plan, { threads: 1 });
  for (const n of CALIBRATION)
    await segmentImageDetailed(await readImageFile(join(NUCLEI_TRAIN, `${n}.image.png`)), calib, card);
  const q = quantizeQdq(bytes, calib.ranges({ kind: 'percentile', percentile: 99.999 }), {}, plan);
  await calib.dispose();
  float = await OnnxRunner.create(bytes, { threads: 1 });
  int8 = await OnnxRunner.create(q, { threads: 1, precision: 'int8' });
}, 300_000);

afterAll(async () => {
  await float?.dispose();
  await int8?.dispose();
});

describe('int8 copy of models/nuclear/1 on a real val image', () => {
  it('gives head maps close to the float model on the val image’s tiles', async () => {
    const raw = await readImageFile(join(NUCLEI_VAL, `${VAL_IMAGE}.image.png`));
    const [image] = selectImages(raw, card);
    const { tiles } = prepareImage(image!, card, 1, {}, 0);
    const [a] = await predictTiles(float, [tiles]);
    const [b] = await predictTiles(int8, [tiles]);
    expect(int8.runtime).toBe('onnxruntime-node/cpu int8');
    for (const head of ['inner', 'outer', 'fg'] as const) {
      const fa = a![head];
      const fb = b![head];
      let sum = 0;
      let max = 0;
      let range = 0;
      for (let i = 0; i < fa.length; i++) {
        const d = Math.abs(fa[i]! - fb[i]!);
        sum += d;
        max = Math.max(max, d);
        range = Math.max(range, Math.abs(fa[i]!));
      }
      const mean = sum / fa.length;
      console.log(
        `${head}: mean |int8 - float| ${mean.toFixed(4)}, max ${max.toFixed(3)}, float max ${range.toFixed(3)}`,
      );
      // Measured 2026-12-07: see the printed lines; bounds leave room for another calibration but not for a
      // wrong scale, zero point or channel order (those give errors of the order of the range itself).
      expect(mean).toBeLessThan(0.02 * range);
    }
  });

  it('segments it into nearly the same nuclei, scoring about the same against the ground truth', async () => {
    const raw = await readImageFile(join(NUCLEI_VAL, `${VAL_IMAGE}.image.png`));
    const truth = await readLabelsFile(join(NUCLEI_VAL, `${VAL_IMAGE}.labels.png`));
    const [rf] = await segmentImageDetailed(raw, float, card);
    const [rq] = await segmentImageDetailed(raw, int8, card);
    const m = matchInstances(rq!.labels, rf!.labels);
    const agree = (2 * m.tp) / (m.nPred + m.nTruth);
    const sf = scoreImage(rf!.labels, truth);
    const sq = scoreImage(rq!.labels, truth);
    console.log(
      `int8 vs float nuclei: F1@0.5 ${agree.toFixed(3)} (${m.nPred} vs ${m.nTruth}); vs truth F1@0.5 float ${sf.at50.f1.toFixed(3)} int8 ${sq.at50.f1.toFixed(3)}, DSB float ${sf.dsb.toFixed(3)} int8 ${sq.dsb.toFixed(3)}`,
    );
    expect(m.nTruth).toBeGreaterThan(10);
    expect(agree).toBeGreaterThanOrEqual(0.9);
    expect(Math.abs(sq.at50.f1 - sf.at50.f1)).toBeLessThan(0.05);
  });
});
