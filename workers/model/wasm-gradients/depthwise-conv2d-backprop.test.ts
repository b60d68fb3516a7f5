import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initTfjs } from '../runtime.js';
import { compareBackends, seededTensor } from './compare-backends.js';

/** wasm vs cpu: max |diff| ≤ TOL · max(1, max |cpu|). */
const TOL = 2e-5;

interface Case {
  name: string;
  x: [number, number, number, number];
  k: [number, number];
  m: number;
  strides: number;
  pad: 'same' | 'valid';
}

const cases: Case[] = [
  { name: '3x3 stride 1 same, multiplier 1', x: [2, 7, 8, 3], k: [3, 3], m: 1, strides: 1, pad: 'same' },
  { name: '3x3 stride 1 valid, multiplier 2', x: [3, 9, 7, 4], k: [3, 3], m: 2, strides: 1, pad: 'valid' },
  { name: '3x3 stride 2 same, multiplier 1', x: [2, 9, 8, 5], k: [3, 3], m: 1, strides: 2, pad: 'same' },
  { name: '5x5 stride 2 valid, multiplier 3', x: [2, 11, 12, 2], k: [5, 5], m: 3, strides: 2, pad: 'valid' },
  { name: '1x1, many channels', x: [2, 5, 5, 16], k: [1, 1], m: 1, strides: 1, pad: 'same' },
];

function outShape(c: Case): number[] {
  const f: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.m];
  return tf.backend_util.computeConv2DInfo(c.x, f, c.strides, 1, c.pad, undefined, true).outShape;
}

describe('wasm DepthwiseConv2dNativeBackpropFilter / Input vs cpu', () => {
  it.each(cases)('filter: $name', async (c) => {
    const r = await compareBackends(
      () =>
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropFilter',
            { x: seededTensor(c.x, 11), dy: seededTensor(outShape(c), 12) },
            { strides: c.strides, pad: c.pad, dilations: 1, filterShape: [c.k[0], c.k[1], c.x[3], c.m] },
          ) as tf.Tensor,
    );
    expect(r.shapes).toEqual([[c.k[0], c.k[1], c.x[3], c.m]]);
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it.each(cases)('input: $name', async (c) => {
    const r = await compareBackends(
      () =>
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropInput',
            { dy: seededTensor(outShape(c), 13), filter: seededTensor([c.k[0], c.k[1], c.x[3], c.m], 14) },
            { strides: c.strides, pad: c.pad, dilations: 1, inputShape: c.x },
          ) as tf.Tensor,
    );
    expect(r.shapes).toEqual([c.x]);
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it('separableConv2d gradients (depthwise + pointwise) match through tf.grads', async () => {
    const r = await compareBackends(() => {
      const g = tf.grads((x: tf.Tensor, dw: tf.Tensor, pw: tf.Tensor) =>
        tf.sum(
          tf.square(tf.separableConv2d(x as tf.Tensor4D, dw as tf.Tensor4D, pw as tf.Tensor4D, 1, 'same')),
        ),
      );
      return g([
        seededTensor([2, 8, 9, 3], 15),
        seededTensor([3, 3, 3, 2], 16),
        seededTensor([1, 1, 6, 4], 17),
      ]);
    });
    expect(r.relDiff).toBeLessThan(TOL);
  });

  it('refuses dilations other than 1, naming them', async () => {
    await initTfjs({ prefer: 'wasm' });
    const x = tf.zeros([1, 8, 8, 2]);
    const dy = tf.zeros([1, 8, 8, 2]);
    expect(() =>
      tf.engine().runKernel(
        'DepthwiseConv2dNativeBackpropFilter',
        { x, dy },
        {
          strides: 1,
          pad: 'same',
          dilations: [2, 2],
          filterShape: [3, 3, 2, 1],
        },
      ),
    ).toThrow(/dilations 1 only .*got 2,2/);
    expect(() =>
      tf.engine().runKernel(
        'DepthwiseConv2dNativeBackpropInput',
        { dy, filter: tf.zeros([3, 3, 2, 1]) },
        {
          strides: 1,
          pad: 'same',
          dilations: 2,
          inputShape: [1, 8, 8, 2],
        },
      ),
    ).toThrow(/dilations 1 only .*got 2/);
    tf.dispose([x, dy]);
  });

  it('rejects a dy whose shape does not match the forward pass', async () => {
    await initTfjs({ prefer: 'wasm' });
    const x = tf.zeros([1, 8, 8, 2]);
    const dy = tf.zeros([1, 8, 8, 3]);
    expect(() =>
      tf.engine().runKernel(
        'DepthwiseConv2dNativeBackpropFilter',
        { x, dy },
        {
          strides: 1,
          pad: 'same',
          dilations: 1,
          filterShape: [3, 3, 2, 2],
        },
      ),
    ).toThrow(/dy has shape \[1,8,8,3\] but the forward convolution of x \[1,8,8,2\] gives \[1,8,8,4\]/);
    tf.dispose([x, dy]);
  });
});
