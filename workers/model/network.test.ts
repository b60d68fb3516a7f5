import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNetwork, NetworkConfigError, resolveNetworkConfig, sizeMultiple } from './network.js';
import { initTfjs } from './runtime.js';

beforeAll(async () => {
  await initTfjs({ prefer: 'wasm' });
});

describe('buildNetwork', () => {
  it('builds the default U-Net with three heads at input resolution and ~1-2 M parameters', () => {
    const model = buildNetwork();
    expect(model.outputNames).toEqual(['inner', 'outer', 'fgbg']);
    expect(model.inputs[0]?.shape).toEqual([null, null, null, 1]);
    expect(model.countParams()).toBeGreaterThan(1_000_000);
    expect(model.countParams()).toBeLessThan(2_500_000);
    const outs = model.predict(tf.zeros([2, 32, 48, 1])) as tf.Tensor[];
    expect(outs.map((o) => o.shape)).toEqual([
      [2, 32, 48, 1],
      [2, 32, 48, 1],
      [2, 32, 48, 2],
    ]);
    const fg = tf.sum(outs[2] as tf.Tensor, -1).dataSync();
    for (const v of fg) expect(v).toBeCloseTo(1, 5);
    tf.dispose(outs);
  });

  it('honours width, depth, channels and a sigmoid foreground head', () => {
    const model = buildNetwork({ channels: 2, baseFilters: 4, depth: 2, fgbg: 'sigmoid', namePrefix: 'x_' });
    expect(model.inputs[0]?.shape).toEqual([null, null, null, 2]);
    const outs = model.predict(tf.zeros([1, 8, 12, 2])) as tf.Tensor[];
    expect(outs[2]?.shape).toEqual([1, 8, 12, 1]);
    expect(model.layers.every((l) => l.name.startsWith('x_'))).toBe(true);
    expect(sizeMultiple({ depth: 2 })).toBe(4);
    tf.dispose(outs);
  });

  it('uses only the layer classes the ONNX exporter supports', () => {
    const allowed = new Set([
      'InputLayer',
      'Conv2D',
      'BatchNormalization',
      'Activation',
      'MaxPooling2D',
      'UpSampling2D',
      'Concatenate',
    ]);
    for (const layer of buildNetwork({ baseFilters: 4 }).layers)
      expect(allowed).toContain(layer.getClassName());
  });

  it.each([
    [{ channels: 0 }, /'channels' must be an integer in \[1, 16\]; got 0/],
    [{ depth: 9 }, /'depth' must be an integer in \[1, 7\]; got 9/],
    [{ baseFilters: 1.5 }, /'baseFilters' must be an integer/],
    [{ baseFilters: 32, maxFilters: 16 }, /'maxFilters' must be an integer in \[32, 2048\]; got 16/],
    [{ convsPerLevel: 0 }, /'convsPerLevel'/],
    [{ fgbg: 'tanh' as 'softmax' }, /'fgbg' must be 'softmax' or 'sigmoid'; got "tanh"/],
    [{ bnMomentum: 1 }, /'bnMomentum' must be in \(0, 1\); got 1/],
  ])('rejects a bad config %j', (config, message) => {
    expect(() => resolveNetworkConfig(config)).toThrow(NetworkConfigError);
    expect(() => buildNetwork(config)).toThrow(message);
  });
});
