import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodePng } from '../image/png.js';
import { loadModel } from './model-io.js';
import { buildNetwork } from './network.js';
import { exportToOnnx, OnnxExportError } from './onnx-export.js';
import { initTfjs } from './runtime.js';
import { buildTinyUnet } from './testing/tiny-unet.js';
import { NUCLEI_VAL } from '../../test/data.js';

const VAL = NUCLEI_VAL;

beforeAll(async () => {
  await initTfjs({ prefer: 'wasm' });
});

/** Max |a - b| per output, over the same NHWC input through tfjs and through the exported ONNX graph. */
async function compare(model: tfl.LayersModel, input: Float32Array, shape: [number, number, number, number]) {
  const session = await ort.InferenceSession.create(exportToOnnx(model));
  const result = await session.run({ input: new ort.Tensor('float32', input, shape) });
  const tfOut = tf.tidy(() => {
    const o = model.predict(tf.tensor4d(input, shape));
    return Array.isArray(o) ? o : [o];
  });
  const diffs = model.outputs.map((o, k) => {
    const a = tfOut[k]!.dataSync();
    const onnxTensor = result[session.outputNames[k]!]!;
    expect(session.outputNames[k]).toBe(o.sourceLayer.name);
    expect(onnxTensor.dims).toEqual(tfOut[k]!.shape);
    const b = onnxTensor.data as Float32Array;
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
    }
    return { head: o.sourceLayer.name, maxDiff, maxAbs };
  });
  tf.dispose(tfOut);
  await session.release();
  for (const d of diffs)
    console.log(
      `onnx vs tfjs-wasm ${d.head}: max |diff| ${d.maxDiff.toExponential(2)}, max |value| ${d.maxAbs.toFixed(3)}`,
    );
  return diffs;
}

/** A real val image, cropped to its top-left `size` x `size` and scaled to [0, 1] by min/max, as [1, H, W, 1]. */
function valCrop(file: string, size: number): Float32Array {
  const raw = decodePng(readFileSync(join(VAL, file)));
  const [h, w] = raw.shape as [number, number];
  expect(h).toBeGreaterThanOrEqual(size);
  expect(w).toBeGreaterThanOrEqual(size);
  const out = new Float32Array(size * size);
  let lo = Infinity;
  let hi = -Infinity;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const v = raw.data[y * w + x]!;
      out[y * size + x] = v;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  return out.map((v) => (v - lo) / Math.max(hi - lo, 1));
}

const valImages = readdirSync(VAL)
  .filter((f) => f.endsWith('.image.png'))
  .sort()
  .slice(0, 3);

describe('exportToOnnx', () => {
  it('tiny U-Net with random weights: ONNX (onnxruntime-node) matches tfjs-wasm on every head', async () => {
    const model = buildTinyUnet({ channels: 2, width: 8, depth: 2, seed: 3 });
    const [n, h, w, c] = [2, 40, 24, 2];
    let s = 1;
    const input = Float32Array.from(
      { length: n * h * w * c },
      () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1,
    );
    const diffs = await compare(model, input, [n, h, w, c]);
    expect(diffs.map((d) => d.head)).toEqual(['inner_distance', 'outer_distance', 'fgbg']);
    // float32 sums in a different order: agreement relative to the output's magnitude.
    for (const d of diffs) expect(d.maxDiff).toBeLessThan(2e-5 * Math.max(1, d.maxAbs));
    model.dispose();
  });

  it.each(valImages)(
    'the real network (buildNetwork, random weights) agrees on val image %s to < 1e-4',
    async (file) => {
      const model = buildNetwork({ baseFilters: 8, depth: 4 });
      const input = valCrop(file, 256);
      const diffs = await compare(model, input, [1, 256, 256, 1]);
      expect(diffs.map((d) => d.head)).toEqual(['inner', 'outer', 'fgbg']);
      // Random weights give outputs of order 1-10: an absolute 1e-4 is at least a 1e-5 relative agreement.
      for (const d of diffs) expect(d.maxDiff).toBeLessThan(1e-4);
      model.dispose();
    },
  );

  it('keeps H and W dynamic: one exported model runs at two sizes', async () => {
    const model = buildTinyUnet({ width: 4, depth: 1 });
    const session = await ort.InferenceSession.create(exportToOnnx(model));
    for (const [h, w] of [
      [8, 8],
      [32, 16],
    ] as const) {
      const r = await session.run({
        input: new ort.Tensor('float32', new Float32Array(h * w), [1, h, w, 1]),
      });
      expect(r['fgbg']!.dims).toEqual([1, h, w, 2]);
    }
    await session.release();
    model.dispose();
  });

  describe('refuses what it cannot translate, naming the layer', () => {
    const wrap = (make: (x: tfl.SymbolicTensor) => tfl.SymbolicTensor) => {
      const input = tfl.input({ shape: [8, 8, 1] });
      return tfl.model({ inputs: input, outputs: make(input) });
    };
    it('a Dense layer', () => {
      const m = wrap((x) => tfl.layers.dense({ units: 2, name: 'my_dense' }).apply(x) as tfl.SymbolicTensor);
      expect(() => exportToOnnx(m)).toThrow(/layer 'my_dense' of class Dense is not supported/);
    });
    it('a strided Conv2D', () => {
      const m = wrap(
        (x) =>
          tfl.layers
            .conv2d({ filters: 2, kernelSize: 3, strides: 2, name: 'strided' })
            .apply(x) as tfl.SymbolicTensor,
      );
      expect(() => exportToOnnx(m)).toThrow(OnnxExportError);
      expect(() => exportToOnnx(m)).toThrow(/layer 'strided': Conv2D strides \[2,2\]/);
    });
    it('a tanh activation', () => {
      const m = wrap(
        (x) => tfl.layers.activation({ activation: 'tanh', name: 'act' }).apply(x) as tfl.SymbolicTensor,
      );
      expect(() => exportToOnnx(m)).toThrow(/layer 'act': activation 'tanh' is not supported/);
    });
    it('bilinear upsampling', () => {
      const m = wrap(
        (x) =>
          tfl.layers
            .upSampling2d({ size: [2, 2], interpolation: 'bilinear', name: 'up' })
            .apply(x) as tfl.SymbolicTensor,
      );
      expect(() => exportToOnnx(m)).toThrow(/layer 'up': UpSampling2D interpolation 'bilinear'/);
    });
    it('a BatchNormalization over a spatial axis', () => {
      const m = wrap(
        (x) => tfl.layers.batchNormalization({ axis: 1, name: 'bn' }).apply(x) as tfl.SymbolicTensor,
      );
      expect(() => exportToOnnx(m)).toThrow(/layer 'bn': BatchNormalization over axis 1/);
    });
    it('two inputs', () => {
      const a = tfl.input({ shape: [8, 8, 1] });
      const b = tfl.input({ shape: [8, 8, 1] });
      const m = tfl.model({ inputs: [a, b], outputs: tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor });
      expect(() => exportToOnnx(m)).toThrow(/model has 2 inputs; exactly 1 is supported/);
    });
    it('a non-image input', () => {
      const input = tfl.input({ shape: [8] });
      const m = tfl.model({ inputs: input, outputs: tfl.layers.reLU().apply(input) as tfl.SymbolicTensor });
      expect(() => exportToOnnx(m)).toThrow(/model input has shape \[null,8\]; expected \[N, H, W, C\]/);
    });
  });

  it.runIf(existsSync('models/nuclear/1/model.onnx'))(
    'the shipped nuclear/1 model.onnx equals a fresh export of its tfjs weights',
    async () => {
      const model = await loadModel('models/nuclear/1');
      const shipped = new Uint8Array(readFileSync('models/nuclear/1/model.onnx'));
      expect(Buffer.compare(Buffer.from(exportToOnnx(model)), Buffer.from(shipped))).toBe(0);
      model.dispose();
    },
  );
});
