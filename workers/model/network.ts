/**
 * The nuclear segmentation network: a U-Net with three heads, in the PanopticNet spirit of DeepCell's
 * NuclearSegmentation (inner distance, outer distance, foreground/background).
 *
 * Input contract (what every model built here expects; the model card repeats it for a trained model):
 * - tensor `[B, H, W, C]` float32 (NHWC), `C = config.channels` (1 for nuclear), H and W any multiple of
 *   `2 ** config.depth` (pad or tile to get there);
 * - each channel percentile-normalized per image: `(x - p1) / (p99.8 - p1)` (not clipped), so background is
 *   near 0 and bright nuclei near 1;
 * - rescaled so nuclei have about the model's training diameter (`targetDiameterPx` in the card).
 *
 * Outputs (in this order, all `[B, H, W, k]` at input resolution):
 * - `inner`: inner distance, 1 channel, linear (trained on values in [0, 1], peaks ≈ 1 at nucleus centres);
 * - `outer`: outer distance, 1 channel, linear (0 on background, rising to ≈ 1 at each nucleus's deepest point);
 * - `fgbg`: foreground/background, 2-channel softmax `[background, foreground]` (or 1-channel sigmoid =
 *   P(foreground) with `fgbg: 'sigmoid'`).
 *
 * Only these layers are used, so the ONNX exporter can translate every model: Conv2D (stride 1, padding
 * same, with bias), BatchNormalization, Activation (relu, sigmoid, softmax, linear), MaxPooling2D 2x2,
 * UpSampling2D 2x nearest, Concatenate (channel axis).
 */
import * as tfl from '@tensorflow/tfjs-layers';

export interface NetworkConfig {
  /** Input channels (1 for nuclear). @default 1 */
  readonly channels?: number;
  /** Filters of the first level; level k has `baseFilters * 2 ** k`, capped at `maxFilters`. @default 16 */
  readonly baseFilters?: number;
  /** Number of 2x poolings; H and W must be multiples of `2 ** depth`. @default 4 */
  readonly depth?: number;
  /** Upper bound on the filters of any level. @default 256 */
  readonly maxFilters?: number;
  /** 3x3 conv (+BN+ReLU) blocks per level. @default 2 */
  readonly convsPerLevel?: number;
  /** Foreground head: 2-channel softmax or 1-channel sigmoid. @default 'softmax' */
  readonly fgbg?: 'softmax' | 'sigmoid';
  /** BatchNormalization momentum of the moving statistics. @default 0.95 */
  readonly bnMomentum?: number;
  /** Prefix of every layer name (lets two models live in one graph without clashes). @default '' */
  readonly namePrefix?: string;
}

export type ResolvedNetworkConfig = Required<NetworkConfig>;

export const HEAD_NAMES = ['inner', 'outer', 'fgbg'] as const;
export type HeadName = (typeof HEAD_NAMES)[number];

/** A config that cannot build a network; the message names the field, the allowed range and the value. */
export class NetworkConfigError extends Error {
  override readonly name = 'NetworkConfigError';
}

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new NetworkConfigError(`'${name}' must be an integer in [${min}, ${max}]; got ${String(value)}`);
  }
}

/** Fills defaults and validates every field (throws `NetworkConfigError`). */
export function resolveNetworkConfig(config: NetworkConfig = {}): ResolvedNetworkConfig {
  const resolved: ResolvedNetworkConfig = {
    channels: config.channels ?? 1,
    baseFilters: config.baseFilters ?? 16,
    depth: config.depth ?? 4,
    maxFilters: config.maxFilters ?? 256,
    convsPerLevel: config.convsPerLevel ?? 2,
    fgbg: config.fgbg ?? 'softmax',
    bnMomentum: config.bnMomentum ?? 0.95,
    namePrefix: config.namePrefix ?? '',
  };
  checkInt('channels', resolved.channels, 1, 16);
  checkInt('baseFilters', resolved.baseFilters, 1, 512);
  checkInt('depth', resolved.depth, 1, 7);
  checkInt('maxFilters', resolved.maxFilters, resolved.baseFilters, 2048);
  checkInt('convsPerLevel', resolved.convsPerLevel, 1, 4);
  if (resolved.fgbg !== 'softmax' && resolved.fgbg !== 'sigmoid') {
    throw new NetworkConfigError(
      `'fgbg' must be 'softmax' or 'sigmoid'; got ${JSON.stringify(resolved.fgbg)}`,
    );
  }
  if (!(resolved.bnMomentum > 0 && resolved.bnMomentum < 1)) {
    throw new NetworkConfigError(`'bnMomentum' must be in (0, 1); got ${String(resolved.bnMomentum)}`);
  }
  return resolved;
}

/** H and W of an input must be multiples of this. */
export function sizeMultiple(config: NetworkConfig = {}): number {
  return 2 ** resolveNetworkConfig(config).depth;
}

type Sym = tfl.SymbolicTensor;

function asSym(x: tfl.SymbolicTensor | tfl.SymbolicTensor[] | unknown): Sym {
  if (x instanceof tfl.SymbolicTensor) return x;
  throw new Error('internal: layer did not return one symbolic tensor');
}

/**
 * Builds an untrained network (see the module doc for the contract). Names: `${prefix}enc{k}_conv{j}`, ...,
 * heads `${prefix}inner`, `${prefix}outer`, `${prefix}fgbg`. Throws `NetworkConfigError` for a bad config.
 */
export function buildNetwork(config: NetworkConfig = {}): tfl.LayersModel {
  const c = resolveNetworkConfig(config);
  const p = c.namePrefix;
  const filtersAt = (level: number): number => Math.min(c.baseFilters * 2 ** level, c.maxFilters);

  const block = (x: Sym, filters: number, name: string): Sym => {
    let y = x;
    for (let j = 0; j < c.convsPerLevel; j++) {
      y = asSym(
        tfl.layers
          .conv2d({ filters, kernelSize: 3, padding: 'same', useBias: true, name: `${p}${name}_conv${j}` })
          .apply(y),
      );
      y = asSym(
        tfl.layers.batchNormalization({ momentum: c.bnMomentum, name: `${p}${name}_bn${j}` }).apply(y),
      );
      y = asSym(tfl.layers.activation({ activation: 'relu', name: `${p}${name}_relu${j}` }).apply(y));
    }
    return y;
  };

  const input = tfl.input({ shape: [null, null, c.channels], name: `${p}image` });
  const skips: Sym[] = [];
  let x: Sym = input;
  for (let level = 0; level < c.depth; level++) {
    x = block(x, filtersAt(level), `enc${level}`);
    skips.push(x);
    x = asSym(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${p}pool${level}` }).apply(x));
  }
  x = block(x, filtersAt(c.depth), 'bottom');
  for (let level = c.depth - 1; level >= 0; level--) {
    x = asSym(tfl.layers.upSampling2d({ size: [2, 2], name: `${p}up${level}` }).apply(x));
    const skip = skips[level];
    if (!skip) throw new Error('internal: missing skip connection');
    x = asSym(tfl.layers.concatenate({ axis: -1, name: `${p}cat${level}` }).apply([x, skip]));
    x = block(x, filtersAt(level), `dec${level}`);
  }

  const head = (name: HeadName, outChannels: number, activation: 'linear' | 'softmax' | 'sigmoid'): Sym => {
    let h = asSym(
      tfl.layers
        .conv2d({ filters: c.baseFilters, kernelSize: 3, padding: 'same', name: `${p}${name}_head_conv` })
        .apply(x),
    );
    h = asSym(tfl.layers.activation({ activation: 'relu', name: `${p}${name}_head_relu` }).apply(h));
    h = asSym(
      tfl.layers
        .conv2d({ filters: outChannels, kernelSize: 1, padding: 'same', name: `${p}${name}_logits` })
        .apply(h),
    );
    return asSym(tfl.layers.activation({ activation, name: `${p}${name}` }).apply(h));
  };

  const outputs = [
    head('inner', 1, 'linear'),
    head('outer', 1, 'linear'),
    c.fgbg === 'softmax' ? head('fgbg', 2, 'softmax') : head('fgbg', 1, 'sigmoid'),
  ];
  return tfl.model({ inputs: input, outputs, name: `${p}nuclear_unet` });
}

/** Total parameter count (trainable + BN statistics) of a model. */
export function countParams(model: tfl.LayersModel): number {
  return model.countParams();
}
