/**
 * A small U-Net built only from the layer set the real network uses (Conv2D same/stride 1 with bias,
 * BatchNormalization, Activation, ReLU, MaxPooling2D 2x2, UpSampling2D 2x nearest, Concatenate, Add), for
 * testing the ONNX exporter and the runners before (and independently of) the trained model.
 * Input [N, H, W, channels] (H, W dynamic, multiples of 2^depth); outputs in the order inner distance [.., 1],
 * outer distance [.., 1], foreground/background softmax [.., 2].
 * Weights are random (glorot) and BatchNorm statistics are randomized so folding is actually exercised.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export interface TinyUnetOptions {
  readonly channels?: number;
  readonly width?: number;
  readonly depth?: number;
  readonly seed?: number;
}

export function buildTinyUnet(opts: TinyUnetOptions = {}): tfl.LayersModel {
  const { channels = 1, width = 8, depth = 2, seed = 1 } = opts;
  let s = seed;
  const init = (): ReturnType<typeof tfl.initializers.glorotUniform> =>
    tfl.initializers.glorotUniform({ seed: s++ });
  const input = tfl.input({ shape: [null, null, channels], name: 'image' });
  const block = (x: tfl.SymbolicTensor, filters: number, name: string): tfl.SymbolicTensor => {
    let y = tfl.layers
      .conv2d({ filters, kernelSize: 3, padding: 'same', kernelInitializer: init(), name: `${name}_c1` })
      .apply(x) as tfl.SymbolicTensor;
    y = tfl.layers.batchNormalization({ name: `${name}_bn1` }).apply(y) as tfl.SymbolicTensor;
    y = tfl.layers.activation({ activation: 'relu', name: `${name}_a1` }).apply(y) as tfl.SymbolicTensor;
    const z = tfl.layers
      .conv2d({
        filters,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(),
        name: `${name}_c2`,
      })
      .apply(y) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({ name: `${name}_add` }).apply([y, z]) as tfl.SymbolicTensor;
    // A BatchNorm that cannot be folded (it follows an Add): exercises the emitted BatchNormalization path.
    const bn = tfl.layers.batchNormalization({ name: `${name}_bn2` }).apply(sum) as tfl.SymbolicTensor;
    return tfl.layers.reLU({ name: `${name}_relu` }).apply(bn) as tfl.SymbolicTensor;
  };
  const skips: tfl.SymbolicTensor[] = [];
  let x = input;
  for (let d = 0; d < depth; d++) {
    x = block(x, width * 2 ** d, `down${d}`);
    skips.push(x);
    x = tfl.layers.maxPooling2d({ poolSize: 2, name: `pool${d}` }).apply(x) as tfl.SymbolicTensor;
  }
  x = block(x, width * 2 ** depth, 'bottom');
  for (let d = depth - 1; d >= 0; d--) {
    x = tfl.layers.upSampling2d({ size: [2, 2], name: `up${d}` }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.concatenate({ axis: -1, name: `cat${d}` }).apply([x, skips[d]!]) as tfl.SymbolicTensor;
    x = block(x, width * 2 ** d, `dec${d}`);
  }
  const head = (
    name: string,
    filters: number,
    activation: 'linear' | 'softmax' | 'relu',
  ): tfl.SymbolicTensor => {
    const h = tfl.layers
      .conv2d({ filters, kernelSize: 1, padding: 'same', kernelInitializer: init(), name: `${name}_conv` })
      .apply(x) as tfl.SymbolicTensor;
    return tfl.layers.activation({ activation, name }).apply(h) as tfl.SymbolicTensor;
  };
  const model = tfl.model({
    inputs: input,
    outputs: [
      head('inner_distance', 1, 'relu'),
      head('outer_distance', 1, 'linear'),
      head('fgbg', 2, 'softmax'),
    ],
    name: 'tiny_unet',
  });
  randomizeBatchNorm(model, seed);
  return model;
}

/** Gives every BatchNormalization non-trivial gamma/beta/mean/variance (deterministic from `seed`). */
function randomizeBatchNorm(model: tfl.LayersModel, seed: number): void {
  let state = seed * 7919 + 1;
  const rand = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const weights = layer.getWeights().map((w, k) => {
      const n = w.size;
      // order: gamma, beta, movingMean, movingVariance
      const values = Float32Array.from({ length: n }, () =>
        k === 0 ? 0.5 + rand() : k === 3 ? 0.2 + rand() : rand() - 0.5,
      );
      return tf.tensor(values, w.shape);
    });
    layer.setWeights(weights);
    weights.forEach((w) => w.dispose());
  }
}
