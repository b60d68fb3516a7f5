/**
 * Tests against the shipped nuclear model (models/nuclear/<latest>); they run once the trained weights
 * and their model.onnx are committed, and are skipped before (nothing else to test them against).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { toImages } from '../image/channels.js';
import { readImageFile, readLabelsFile } from '../image/files.js';
import { poolScores, scoreImage, type Scores } from '../image/metrics.js';
import { resizeBilinear, resizeNearest } from '../image/resize.js';
import type { RawArray } from '../image/types.js';
import { readModelCard, type ModelCard } from '../model/model-io.js';
import { loadRunner, type ModelRunner } from '../model/runners.js';
import { initTfjs } from '../model/runtime.js';
import { preprocess } from './preprocess.js';
import { segmentImageDetailed } from './segment.js';
import { NUCLEI_VAL } from '../../test/data.js';

const VAL = NUCLEI_VAL;
const versions = existsSync('models/nuclear')
  ? readdirSync('models/nuclear').filter((v) => /^\d+$/.test(v))
  : [];
const latest = versions.sort((a, b) => Number(a) - Number(b)).pop();
// NUCLEAR_MODEL_DIR points the tests at a candidate model folder before it is committed.
const modelDir =
  process.env.NUCLEAR_MODEL_DIR ?? (latest === undefined ? undefined : join('models/nuclear', latest));
const ready = modelDir !== undefined && existsSync(join(modelDir, 'model.onnx'));

/** A fixed spread of val images (every 10th by name). */
const files = readdirSync(VAL)
  .filter((f) => f.endsWith('.image.png'))
  .sort()
  .filter((_, i) => i % 10 === 0);

describe.runIf(ready)(`the shipped model ${modelDir ?? ''}`, () => {
  let card: ModelCard;
  let onnx: ModelRunner;
  beforeAll(async () => {
    await initTfjs({ prefer: 'wasm' });
    card = await readModelCard(modelDir!);
    // The float model (its int8 copy has its own tests: workers/model/quantize-real.test.ts).
    onnx = await loadRunner(modelDir!, { runtime: 'onnx', threads: 2, int8: 'off' });
  });

  it('ONNX (onnxruntime-node) and tfjs-wasm agree on real val tiles, every head, to < 1e-4', async () => {
    const tfjs = await loadRunner(modelDir!, { runtime: 'tfjs', tfjsPrefer: 'wasm' });
    for (const f of files.slice(0, 3)) {
      const [prepared] = preprocess(await readImageFile(join(VAL, f)), { card });
      const { tiles, count, tileSize: t } = prepared!.tiles;
      const a = await onnx.predict(tiles, count, t, t, 1);
      const b = await tfjs.predict(tiles, count, t, t, 1);
      for (const head of ['inner', 'outer', 'fg'] as const) {
        let diff = 0;
        let peak = 0;
        for (let i = 0; i < a[head].length; i++) {
          diff = Math.max(diff, Math.abs(a[head][i]! - b[head][i]!));
          peak = Math.max(peak, Math.abs(b[head][i]!));
        }
        console.log(
          `${f} ${head}: max |onnx - tfjs| ${diff.toExponential(2)} (max |value| ${peak.toFixed(3)})`,
        );
        expect(diff).toBeLessThan(1e-4);
      }
    }
    await tfjs.dispose();
  }, 300_000);

  it('a val image made 16-bit (low dynamic range) with nuclei 2x larger scores F1@0.5 within 0.05 of the original', async () => {
    const original: Scores[] = [];
    const transformed: Scores[] = [];
    for (const f of files) {
      const raw = await readImageFile(join(VAL, f));
      const truth = await readLabelsFile(join(VAL, f.replace('.image.png', '.labels.png')));
      const [base] = await segmentImageDetailed(raw, onnx, card);
      original.push(scoreImage(base!.labels, truth));
      // 2x larger (bilinear), then camera-like 16-bit counts: offset 400, ~12 counts per 8-bit step.
      const [image] = toImages(raw);
      const big = resizeBilinear(image!, image!.height * 2, image!.width * 2);
      const data = Uint16Array.from(big.data, (v) => Math.round(400 + 12 * v));
      const raw16: RawArray = { data, dtype: 'uint16', shape: [big.height, big.width], axes: 'YX' };
      const [scaled] = await segmentImageDetailed(raw16, onnx, card);
      transformed.push(scoreImage(scaled!.labels, resizeNearest(truth, big.height, big.width)));
      console.log(
        `${f}: F1@0.5 ${original.at(-1)!.f1_50.toFixed(3)} (scale ${base!.scale.toFixed(2)}) → 2x 16-bit ${transformed.at(-1)!.f1_50.toFixed(3)} (scale ${scaled!.scale.toFixed(2)}, ${scaled!.passes} passes)`,
      );
    }
    const a = poolScores(original);
    const b = poolScores(transformed);
    console.log(
      `pooled over ${files.length} val images: F1@0.5 ${a.f1_50.toFixed(3)} original, ${b.f1_50.toFixed(3)} 2x 16-bit; DSB ${a.dsb.toFixed(3)} → ${b.dsb.toFixed(3)}`,
    );
    expect(a.f1_50).toBeGreaterThan(0.5); // not vacuous: the model must find the nuclei of the originals
    expect(Math.abs(a.f1_50 - b.f1_50)).toBeLessThan(0.05);
  }, 600_000); // ~1 min alone; minutes on a shared 2-core machine
});
