/**
 * The export step of a model folder: reads the tfjs model in `dir` (model.json + weights.bin), writes
 * `dir/model.onnx` next to it, and checks the two against each other on a deterministic input so a broken
 * export never ships silently.
 */
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from './model-io.js';
import { exportToOnnx, OnnxExportError } from './onnx-export.js';

export interface ExportReport {
  readonly path: string;
  readonly bytes: number;
  /** Max |tfjs - onnx| per output on the check input, in output order. */
  readonly maxAbsDiff: Record<string, number>;
}

export interface ExportModelDirOptions {
  /** Side of the square check input. @default 64 */
  readonly checkSize?: number;
  /** Largest allowed |tfjs - onnx| on the check input. @default 1e-4 */
  readonly tolerance?: number;
}

/**
 * Exports `dir`'s tfjs model to `dir/model.onnx` (written atomically). The tfjs backend must be set up
 * (`initTfjs`). Rejects with ModelIoError for a missing/broken folder, OnnxExportError for an unsupported
 * layer or when the runtimes disagree by more than `tolerance` (then nothing is written).
 */
export async function exportModelDir(dir: string, opts: ExportModelDirOptions = {}): Promise<ExportReport> {
  const size = opts.checkSize ?? 64;
  const tolerance = opts.tolerance ?? 1e-4;
  const model = await loadModel(dir);
  try {
    // Default fields only: the bytes depend on the model alone, so a re-export can be compared byte for byte.
    const bytes = exportToOnnx(model);
    const channels = model.inputs[0]!.shape[3] as number;
    const n = size * size * channels;
    // A smooth deterministic pattern in [0, 1] (roughly the range of normalized images).
    const input = Float32Array.from(
      { length: n },
      (_, i) => 0.5 + 0.5 * Math.sin(i * 0.37) * Math.cos(i * 0.011),
    );
    const session = await ort.InferenceSession.create(bytes);
    const result = await session.run({ input: new ort.Tensor('float32', input, [1, size, size, channels]) });
    const expected = tf.tidy(() => {
      const out = model.predict(tf.tensor4d(input, [1, size, size, channels]));
      return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
    });
    const maxAbsDiff: Record<string, number> = {};
    session.outputNames.forEach((name, k) => {
      const a = expected[k]!;
      const b = result[name]!.data as Float32Array;
      let m = 0;
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
      maxAbsDiff[name] = m;
    });
    await session.release();
    const worst = Math.max(...Object.values(maxAbsDiff));
    if (!(worst <= tolerance)) {
      throw new OnnxExportError(
        `ONNX export of ${dir} disagrees with tfjs by ${worst} (> ${tolerance}): ${JSON.stringify(maxAbsDiff)}`,
      );
    }
    const path = join(dir, 'model.onnx');
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    return { path, bytes: bytes.length, maxAbsDiff };
  } finally {
    model.dispose();
  }
}
