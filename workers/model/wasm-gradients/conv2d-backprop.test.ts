import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initTfjs } from '../runtime.js';
import { compareBackends, seededTensor } from './compare-backends.js';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.js';

/** wasm vs cpu: max |diff| ≤ TOL · max(1, max |cpu|) — float32 sums of up to a few thousand products. */
const TOL = 2e-5;

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case {
  name: string;
  x: [number, number, number, number]; // [B, H, W, Ci]
  k: [number, number]; // [KH, KW]
  co: number;
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const cases: Case[] = [
  { name: '3x3 stride 1 same', x: [2, 7, 7, 3], k: [3, 3], co: 5, strides: 1, pad: 'same' },
  { name: '3x3 stride 1 valid, non-square', x: [1, 9, 11, 4], k: [3, 3], co: 2, strides: 1, pad: 'valid' },
  { name: '3x3 stride 2 same, even size', x: [2, 8, 8, 3], k: [3, 3], co: 4, strides: 2, pad: 'same' },
  { name: '3x3 stride 2 same, odd size', x: [3, 7, 9, 2], k: [3, 3], co: 3, strides: 2, pad: 'same' },
  {
    name: '3x3 stride 2 valid, unused last row',
    x: [2, 10, 10, 3],
    k: [3, 3],
    co: 2,
    strides: 2,
    pad: 'valid',
  },
  { name: '5x5 stride 1 same', x: [2, 9, 8, 1], k: [5, 5], co: 16, strides: 1, pad: 'same' },
  { name: '5x3 stride [2,1] same', x: [2, 9, 8, 6], k: [5, 3], co: 4, strides: [2, 1], pad: 'same' },
  { name: '1x1 head', x: [4, 6, 6, 16], k: [1, 1], co: 3, strides: 1, pad: 'same' },
  {
    name: '2x2 stride 2 (transposed-conv geometry)',
    x: [2, 8, 8, 8],
    k: [2, 2],
    co: 8,
    strides: 2,
    pad: 'same',
  },
  { name: '4x4 stride 3 valid', x: [1, 13, 14, 2], k: [4, 4], co: 3, strides: 3, pad: 'valid' },
  {
    name: 'explicit pads',
    x: [2, 7, 8, 3],
    k: [3, 3],
    co: 2,
    strides: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  {
    name: 'numeric pad 1, stride 2, floor',
    x: [2, 8, 8, 3],
    k: [3, 3],
    co: 2,
    strides: 2,
    pad: 1,
    dimRoundingMode: 'floor',
  },
  { name: 'wide channels', x: [2, 6, 6, 32], k: [3, 3], co: 48, strides: 1, pad: 'same' },
];

function outShape(c: Case): number[] {
  const info = tf.backend_util.computeConv2DInfo(
    c.x,
    [c.k[0], c.k[1], c.x[3], c.co],
    c.strides,
    1,
    c.pad,
    c.dimRoundingMode,
  );
  return info.outShape;
}

describe('wasm Conv2DBackpropFilter vs cpu', () => {
  it('is the kernel registered for wasm', async () => {
    await initTfjs({ prefer: 'wasm' });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(
      conv2DBackpropFilterConfig.kernelFunc,
    );
  });

  it.each(cases)('$name', async (c) => {
    const r = await compareBackends(
      () =>
        tf
          .engine()
          .runKernel('Conv2DBackpropFilter', { x: seededTensor(c.x, 1), dy: seededTensor(outShape(c), 2) }, {
            strides: c.strides,
            pad: c.pad,
            dataFormat: 'NHWC',
            dimRoundingMode: c.dimRoundingMode,
            filterShape: [c.k[0], c.k[1], c.x[3], c.co],
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
    expect(r.shapes).toEqual([[c.k[0], c.k[1], c.x[3], c.co]]);
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it('rejects NCHW with a clear error', async () => {
    await initTfjs({ prefer: 'wasm' });
    const x = tf.zeros([1, 4, 4, 2]);
    const dy = tf.zeros([1, 4, 4, 3]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NCHW',
        filterShape: [3, 3, 2, 3],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/dataFormat 'NHWC' only; got 'NCHW'/);
    tf.dispose([x, dy]);
  });

  it('rejects a dy that does not match the forward output, naming both shapes', async () => {
    await initTfjs({ prefer: 'wasm' });
    const x = tf.zeros([1, 8, 8, 2]);
    const dy = tf.zeros([1, 8, 8, 3]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
        strides: 2,
        pad: 'same',
        dataFormat: 'NHWC',
        filterShape: [3, 3, 2, 3],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/dy has shape \[1,8,8,3\] but the forward convolution of x \[1,8,8,2\] gives \[1,4,4,3\]/);
    tf.dispose([x, dy]);
  });
});

describe('wasm Conv2DBackpropInput (replacement) vs cpu', () => {
  it('replaces the native kernel', async () => {
    await initTfjs({ prefer: 'wasm' });
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc).toBe(
      conv2DBackpropInputConfig.kernelFunc,
    );
  });

  it.each(cases)('$name', async (c) => {
    const r = await compareBackends(
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy: seededTensor(outShape(c), 3), filter: seededTensor([c.k[0], c.k[1], c.x[3], c.co], 4) },
            {
              strides: c.strides,
              pad: c.pad,
              dataFormat: 'NHWC',
              dimRoundingMode: c.dimRoundingMode,
              inputShape: c.x,
            } as unknown as tf.NamedAttrMap,
          ) as tf.Tensor,
    );
    expect(r.shapes).toEqual([c.x]);
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it('conv2dTranspose forward (2x2 stride 2 upsampling) matches cpu', async () => {
    const r = await compareBackends(() =>
      tf.conv2dTranspose(
        seededTensor<tf.Rank.R4>([2, 5, 6, 8], 5),
        seededTensor<tf.Rank.R4>([2, 2, 4, 8], 6),
        [2, 10, 12, 4],
        2,
        'same',
      ),
    );
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it('rejects a dy that does not match the forward output', async () => {
    await initTfjs({ prefer: 'wasm' });
    const dy = tf.zeros([1, 5, 5, 3]);
    const filter = tf.zeros([3, 3, 2, 3]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
        strides: 2,
        pad: 'same',
        dataFormat: 'NHWC',
        inputShape: [1, 8, 8, 2],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(
      /dy has shape \[1,5,5,3\] but a forward conv of \[1,8,8,2\] with filter \[3,3,2,3\] gives \[1,4,4,3\]/,
    );
    tf.dispose([dy, filter]);
  });

  it('rejects NCHW with a clear error', async () => {
    await initTfjs({ prefer: 'wasm' });
    const dy = tf.zeros([1, 4, 4, 3]);
    const filter = tf.zeros([3, 3, 2, 3]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NCHW',
        inputShape: [1, 2, 4, 4],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/dataFormat 'NHWC' only; got 'NCHW'/);
    tf.dispose([dy, filter]);
  });
});

describe('conv2d gradients through tf.grads, wasm vs cpu', () => {
  it.each([
    { strides: 1, pad: 'same' as const },
    { strides: 2, pad: 'same' as const },
    { strides: 2, pad: 'valid' as const },
  ])('strides $strides pad $pad: dx and dW match', async ({ strides, pad }) => {
    const r = await compareBackends(() => {
      const x = seededTensor<tf.Rank.R4>([3, 9, 10, 4], 7);
      const w = seededTensor<tf.Rank.R4>([3, 3, 4, 6], 8);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad))),
      );
      return g([x, w]);
    });
    expect(r.shapes).toEqual([
      [3, 9, 10, 4],
      [3, 3, 4, 6],
    ]);
    expect(r.relDiff).toBeLessThan(TOL);
  });
});
