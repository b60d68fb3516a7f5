/**
 * The int8 step of a model folder: calibrates the activation ranges of `dir/model.onnx` on training images
 * through the real pipeline (`segmentImageDetailed`: normalization, autoscale, tiles — exactly what the
 * network sees when serving), writes the QDQ model (./quantize.ts), scores float and int8 on the val images
 * through the same pipeline, and keeps the int8 copy only when it is within the accuracy gate:
 * |ΔF1@0.5| ≤ 0.005 and |ΔDSB| ≤ 0.01 (issue 22). Then it writes `dir/model.int8.onnx` and `card.int8`, the
 * record `loadRunner` checks before it serves the int8 copy (./runners.ts).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readImageFile, readLabelsFile } from '../image/files.js';
import { poolScores, scoreImage } from '../image/metrics.js';
import { segmentImageDetailed } from '../pipeline/segment.js';
import { readModelCard, writeModelCard, type ModelCard } from './model-io.js';
import {
  calibrationModel,
  CalibrationRunner,
  planQuantization,
  quantizeQdq,
  type CalibrationMethod,
  type QuantizeOptions,
} from './quantize.js';
import { INT8_GATE, INT8_ONNX, type Int8CardEntry } from './quantize-card.js';
import { OnnxRunner, type ModelRunner } from './runners.js';

export { INT8_GATE, INT8_ONNX, type Int8CardEntry } from './quantize-card.js';

export interface ValScore {
  readonly f1_50: number;
  readonly dsb: number;
  readonly images: number;
  readonly seconds: number;
}

/** Image base names (`NAME.image.png` with `NAME.labels.png`) in `dir`, sorted. */
export async function annotatedImages(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => f.endsWith('.image.png'))
    .map((f) => f.slice(0, -'.image.png'.length))
    .sort();
}

/** F1@0.5 (pooled) and DSB (mean per image) of `runner` on `names` in `dir`, through `segmentImageDetailed`. */
export async function scoreOnImages(
  runner: ModelRunner,
  card: ModelCard,
  dir: string,
  names: readonly string[],
): Promise<ValScore> {
  const t0 = performance.now();
  const scores = [];
  for (const n of names) {
    const raw = await readImageFile(join(dir, `${n}.image.png`));
    const [r] = await segmentImageDetailed(raw, runner, card);
    scores.push(scoreImage(r!.labels, await readLabelsFile(join(dir, `${n}.labels.png`))));
  }
  const p = poolScores(scores);
  return {
    f1_50: p.f1_50,
    dsb: p.meanPerImage.dsb,
    images: names.length,
    seconds: (performance.now() - t0) / 1000,
  };
}

export interface QuantizeModelDirOptions extends QuantizeOptions {
  /** Annotated training images to calibrate on (only the images are read). */
  readonly trainDir: string;
  /** Annotated val images for the gate. */
  readonly valDir: string;
  /** Calibrate on every k-th training image (sorted by name). @default 8 */
  readonly calibrationStride?: number;
  /** @default minmax (closest to the float model on val, docs/performance.md) */
  readonly method?: CalibrationMethod;
  /** onnxruntime threads. @default 2 */
  readonly threads?: number;
  /** Write model.int8.onnx + card.int8 when the gate passes. @default true */
  readonly write?: boolean;
  /** Where to write the int8 model instead of `dir` (e.g. a temp dir for a bench). @default dir */
  readonly outDir?: string;
  readonly log?: (line: string) => void;
  /** Val scores of the float model when already known (skips that scoring). */
  readonly floatScore?: ValScore;
}

export interface QuantizeReport {
  readonly bytes: Uint8Array;
  readonly path?: string;
  readonly float: ValScore;
  readonly int8: ValScore;
  readonly passed: boolean;
  readonly entry: Int8CardEntry;
}

export function methodName(m: CalibrationMethod): string {
  return m.kind === 'minmax' ? 'minmax' : `percentile ${m.percentile}`;
}

/** Calibrates `dir/model.onnx` and returns the calibration runner (its histograms filled). */
export async function calibrateModelDir(
  dir: string,
  card: ModelCard,
  trainDir: string,
  stride: number,
  threads: number,
): Promise<{ runner: CalibrationRunner; images: number; float: Uint8Array }> {
  const float = new Uint8Array(await readFile(join(dir, 'model.onnx')));
  const plan = planQuantization(float);
  const runner = await CalibrationRunner.create(calibrationModel(float, plan), plan, { threads });
  const names = (await annotatedImages(trainDir)).filter((_, k) => k % stride === 0);
  for (const n of names)
    await segmentImageDetailed(await readImageFile(join(trainDir, `${n}.image.png`)), runner, card);
  return { runner, images: names.length, float };
}

/**
 * Calibrates, quantizes and gates `dir`'s model (see the file comment). Writes `model.int8.onnx` and card.int8
 * (atomically) only when the gate passes and `write` is not false; a copy that fails is not written, and a
 * stale card.int8 / model.int8.onnx in `dir` is then removed so nothing serves it.
 */
export async function quantizeModelDir(dir: string, opts: QuantizeModelDirOptions): Promise<QuantizeReport> {
  const log = opts.log ?? (() => {});
  const threads = opts.threads ?? 2;
  const method = opts.method ?? { kind: 'minmax' };
  const stride = opts.calibrationStride ?? 8;
  const card = await readModelCard(dir);
  const { runner: cal, images, float } = await calibrateModelDir(dir, card, opts.trainDir, stride, threads);
  log(`calibrated on ${images} training images (${cal.tiles} tiles)`);
  const bytes = quantizeQdq(float, cal.ranges(method), opts);
  await cal.dispose();
  const val = await annotatedImages(opts.valDir);
  let floatScore = opts.floatScore;
  if (!floatScore) {
    const fr = await OnnxRunner.create(join(dir, 'model.onnx'), { threads });
    floatScore = await scoreOnImages(fr, card, opts.valDir, val);
    await fr.dispose();
  }
  const qr = await OnnxRunner.create(bytes, { threads });
  const int8 = await scoreOnImages(qr, card, opts.valDir, val);
  await qr.dispose();
  const passed =
    Math.abs(int8.f1_50 - floatScore.f1_50) <= INT8_GATE.f1_50 &&
    Math.abs(int8.dsb - floatScore.dsb) <= INT8_GATE.dsb;
  const round = (v: number): number => Number(v.toFixed(4));
  const entry: Int8CardEntry = {
    file: INT8_ONNX,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    format:
      'ONNX QDQ (workers/model/quantize.ts): uint8 activations per tensor, int8 symmetric per-channel weights, ' +
      'int32 biases; onnxruntime fuses each Conv+Relu into QLinearConv; the heads’ last 1x1 convs stay float',
    calibration: {
      data: `every ${stride}th image of ${opts.trainDir.replace(/^.*?((shared\/)?data\/.*)$/, '$1')} through the kiosk segment pipeline`,
      images,
      tiles: cal.tiles,
      method: methodName(method),
      weightBits: (opts.weightMax ?? 127) === 63 ? 7 : 8,
      floatSha256: createHash('sha256').update(float).digest('hex'),
    },
    validation: {
      data: `${opts.valDir.replace(/^.*?((shared\/)?data\/.*)$/, '$1')} (${val.length} images)`,
      pipeline: 'kiosk segment (segmentImageDetailed with card defaults), onnxruntime-node CPU',
      float: { f1_50: round(floatScore.f1_50), dsb: round(floatScore.dsb) },
      int8: { f1_50: round(int8.f1_50), dsb: round(int8.dsb) },
      gate: { ...INT8_GATE },
      passed,
    },
  };
  log(
    `val F1@0.5 float ${floatScore.f1_50.toFixed(4)} int8 ${int8.f1_50.toFixed(4)}; ` +
      `DSB float ${floatScore.dsb.toFixed(4)} int8 ${int8.dsb.toFixed(4)}: gate ${passed ? 'passed' : 'FAILED'}`,
  );
  let path: string | undefined;
  if (opts.write !== false) {
    const out = opts.outDir ?? dir;
    path = join(out, INT8_ONNX);
    const { int8: _old, ...rest } = card;
    if (passed) {
      const tmp = `${path}.tmp-${process.pid}`;
      await writeFile(tmp, bytes);
      await rename(tmp, path);
      if (out === dir) await writeModelCard(dir, { ...rest, int8: entry });
    } else if (out === dir) {
      await rm(path, { force: true });
      await writeModelCard(dir, rest as ModelCard);
      path = undefined;
    }
  }
  return { bytes, ...(path ? { path } : {}), float: floatScore, int8, passed, entry };
}
