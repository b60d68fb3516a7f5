/**
 * The pooling/resize gradient kernels a U-Net uses on wasm, checked against cpu (and by hand): MaxPoolGrad is
 * ours (wasm's is wrong), the others are wasm's own.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initTfjs } from '../runtime.js';
import { compareBackends, seededTensor } from './compare-backends.js';

const TOL = 1e-5;

/** d/dx Σ(w · f(x)) for a seeded weight w shaped like f(x). */
function weightedGrad(f: (x: tf.Tensor4D) => tf.Tensor, xShape: number[], outShape: number[]): tf.Tensor {
  const w = seededTensor(outShape, 2);
  return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor4D), w)))(seededTensor(xShape, 1));
}

describe('wasm-native gradient kernels vs cpu', () => {
  it('MaxPoolGrad 2x2/2, batch 3', async () => {
    const r = await compareBackends(() =>
      weightedGrad((x) => tf.maxPool(x, 2, 2, 'valid'), [3, 8, 8, 4], [3, 4, 4, 4]),
    );
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it.each([
    { x: [2, 8, 10, 3], size: 2, stride: 2, pad: 'valid' as const },
    { x: [1, 9, 7, 2], size: 3, stride: 2, pad: 'same' as const },
    { x: [2, 6, 6, 5], size: 3, stride: 1, pad: 'same' as const },
  ])('MaxPoolGrad (ours) $size x $size / $stride $pad on [$x]', async ({ x, size, stride, pad }) => {
    const out = tf.backend_util.computePool2DInfo(
      x as [number, number, number, number],
      size,
      stride,
      1,
      pad,
    ).outShape;
    const r = await compareBackends(() => weightedGrad((t) => tf.maxPool(t, size, stride, pad), x, out));
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it('AvgPoolGrad 2x2/2, batch 3', async () => {
    const r = await compareBackends(() =>
      weightedGrad((x) => tf.avgPool(x, 2, 2, 'valid'), [3, 8, 8, 4], [3, 4, 4, 4]),
    );
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it('ResizeBilinearGrad 2x, batch 3', async () => {
    const r = await compareBackends(() =>
      weightedGrad((x) => tf.image.resizeBilinear(x, [16, 16]), [3, 8, 8, 4], [3, 16, 16, 4]),
    );
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it('ResizeNearestNeighborGrad 2x matches cpu at batch 1', async () => {
    const r = await compareBackends(() =>
      weightedGrad((x) => tf.image.resizeNearestNeighbor(x, [16, 16]), [1, 8, 8, 4], [1, 16, 16, 4]),
    );
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it('ResizeNearestNeighborGrad 2x sums each 2x2 block of dy, at batch 2 (where cpu gets it wrong)', async () => {
    await initTfjs({ prefer: 'wasm' });
    const dy = tf.tensor4d(
      Array.from({ length: 32 }, (_, i) => i + 1),
      [2, 4, 4, 1],
    );
    const g = tf.grad((a: tf.Tensor) =>
      tf.sum(tf.mul(tf.image.resizeNearestNeighbor(a as tf.Tensor4D, [4, 4]), dy)),
    )(tf.zeros([2, 2, 2, 1]));
    // image 0: 1+2+5+6, 3+4+7+8, 9+10+13+14, 11+12+15+16; image 1: the same +16 per element (·4 = +64).
    expect(Array.from(await g.data())).toEqual([14, 22, 46, 54, 78, 86, 110, 118]);
    tf.dispose([dy, g]);
  });
});
