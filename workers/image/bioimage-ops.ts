/**
 * The pre- and post-processing operations of the bioimage.io model specification (format 0.4 and 0.5), on
 * float images [H, W, C] (channel fastest), plus the two ways an imported model's output becomes labels.
 * Pure: no I/O, inputs are never modified, every op returns a new image.
 *
 * Reductions ("axes"): an op that computes statistics does so over the pixels of each channel separately
 * (`perChannel: true`, the spec's axes 'xy' / ['y', 'x']) or over all channels together (`perChannel:
 * false`, axes 'cxy' / ['channel', 'y', 'x']). One image is one sample (the spec's `per_sample` mode).
 *
 * Formulas (as the spec states them):
 * - zero_mean_unit_variance: out = (x - mean) / (std + eps), mean and std (population, ddof 0) of the
 *   sample; `fixed_zero_mean_unit_variance` (0.5) / mode 'fixed' (0.4) takes mean and std as given;
 * - scale_range: out = (x - p_low) / (p_high - p_low + eps), p the numpy 'linear' percentiles;
 * - scale_linear: out = gain * x + offset (scalars, or one per channel);
 * - clip: out = min(max(x, min), max);
 * - binarize: out = x > threshold ? 1 : 0 (threshold scalar or one per channel);
 * - sigmoid: out = 1 / (1 + exp(-x));
 * - ensure_dtype: values as the dtype holds them (integers: truncated toward zero and clamped to the
 *   type's range; float32: rounded to float32).
 */
import { connectedComponents, relabelSequential, removeSmallObjects } from './labels.js';
import { percentiles } from './normalize.js';
import { peakLocalMax } from './peaks.js';
import { ImageError, type FloatMap, type Image, type Labels } from './types.js';
import { watershed } from './watershed.js';

function bad(message: string): never {
  throw new ImageError('bad-argument', message);
}

function checkImage(op: string, image: Image): void {
  const { data, height, width, channels } = image;
  if (data.length !== height * width * channels)
    throw new ImageError(
      'shape-mismatch',
      `${op}: image holds ${data.length} values; [${height}, ${width}, ${channels}] needs ${height * width * channels}`,
    );
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) bad(`${op}: pixel value ${data[i]} at index ${i} is not finite`);
  }
}

/** A scalar, or one value per channel: the value for channel `ch`. */
function perChannelValue(op: string, name: string, v: number | readonly number[], channels: number) {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) bad(`${op}: '${name}' must be a finite number; got ${v}`);
    return (): number => v;
  }
  if (!Array.isArray(v) || v.length !== channels || !v.every((x) => Number.isFinite(x)))
    bad(
      `${op}: '${name}' must be a number or ${channels} numbers (one per channel); got ${JSON.stringify(v)}`,
    );
  return (ch: number): number => v[ch]!;
}

/** Applies `f(x, ch)` to every value. */
function mapValues(image: Image, f: (x: number, ch: number) => number): Image {
  const { data, channels: c } = image;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f(data[i]!, i % c);
  return { ...image, data: out };
}

/** The values a statistic is computed over: each channel's (perChannel) or all of them, as groups. */
function groups(image: Image, perChannel: boolean): { channels: number[]; values: Float32Array }[] {
  const { data, channels: c } = image;
  if (!perChannel || c === 1) return [{ channels: [...Array(c).keys()], values: data }];
  const n = data.length / c;
  return [...Array(c).keys()].map((ch) => {
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = data[i * c + ch]!;
    return { channels: [ch], values };
  });
}

export interface ZeroMeanUnitVarianceOptions {
  /** Statistics per channel (true) or over all channels (false). @default true */
  readonly perChannel?: boolean;
  /** Added to the standard deviation. @default 1e-6 */
  readonly eps?: number;
}

/** (x - mean) / (std + eps) with the sample's mean and (population) standard deviation. */
export function zeroMeanUnitVariance(image: Image, opts: ZeroMeanUnitVarianceOptions = {}): Image {
  checkImage('zero_mean_unit_variance', image);
  const eps = opts.eps ?? 1e-6;
  if (!(eps >= 0 && Number.isFinite(eps))) bad(`zero_mean_unit_variance: 'eps' must be >= 0; got ${eps}`);
  const mean = new Float64Array(image.channels);
  const std = new Float64Array(image.channels);
  for (const g of groups(image, opts.perChannel ?? true)) {
    let sum = 0;
    for (const v of g.values) sum += v;
    const m = sum / g.values.length;
    let sq = 0;
    for (const v of g.values) sq += (v - m) ** 2;
    const s = Math.sqrt(sq / g.values.length);
    for (const ch of g.channels) {
      mean[ch] = m;
      std[ch] = s;
    }
  }
  return mapValues(image, (x, ch) => (x - mean[ch]!) / (std[ch]! + eps));
}

/** (x - mean) / (std + eps) with the given mean and std (scalars or one per channel). */
export function fixedZeroMeanUnitVariance(
  image: Image,
  opts: { mean: number | readonly number[]; std: number | readonly number[]; eps?: number },
): Image {
  const op = 'fixed_zero_mean_unit_variance';
  checkImage(op, image);
  const mean = perChannelValue(op, 'mean', opts.mean, image.channels);
  const std = perChannelValue(op, 'std', opts.std, image.channels);
  const eps = opts.eps ?? 1e-6;
  for (let ch = 0; ch < image.channels; ch++)
    if (!(std(ch) >= 0)) bad(`${op}: 'std' must be >= 0; got ${std(ch)}`);
  return mapValues(image, (x, ch) => (x - mean(ch)) / (std(ch) + eps));
}

export interface ScaleRangeOptions {
  /** Percentile mapped to 0, in [0, 100). @default 0 */
  readonly minPercentile?: number;
  /** Percentile mapped to 1, in (minPercentile, 100]. @default 100 */
  readonly maxPercentile?: number;
  /** Added to p_high - p_low. @default 1e-6 */
  readonly eps?: number;
  /** @default true */
  readonly perChannel?: boolean;
}

/** (x - p_low) / (p_high - p_low + eps), percentiles as numpy's default ('linear') computes them. */
export function scaleRange(image: Image, opts: ScaleRangeOptions = {}): Image {
  checkImage('scale_range', image);
  const lo = opts.minPercentile ?? 0;
  const hi = opts.maxPercentile ?? 100;
  const eps = opts.eps ?? 1e-6;
  if (!(lo >= 0 && lo < hi && hi <= 100))
    bad(
      `scale_range: percentiles must satisfy 0 <= min_percentile < max_percentile <= 100; got ${lo}, ${hi}`,
    );
  if (!(eps >= 0 && Number.isFinite(eps))) bad(`scale_range: 'eps' must be >= 0; got ${eps}`);
  const low = new Float64Array(image.channels);
  const range = new Float64Array(image.channels);
  for (const g of groups(image, opts.perChannel ?? true)) {
    const [pLow, pHigh] = percentiles(g.values, lo, hi);
    for (const ch of g.channels) {
      low[ch] = pLow;
      range[ch] = pHigh - pLow + eps;
    }
  }
  return mapValues(image, (x, ch) => (range[ch] === 0 ? 0 : (x - low[ch]!) / range[ch]!));
}

/** gain * x + offset (each a scalar or one value per channel). */
export function scaleLinear(
  image: Image,
  opts: { gain?: number | readonly number[]; offset?: number | readonly number[] },
): Image {
  checkImage('scale_linear', image);
  const gain = perChannelValue('scale_linear', 'gain', opts.gain ?? 1, image.channels);
  const offset = perChannelValue('scale_linear', 'offset', opts.offset ?? 0, image.channels);
  return mapValues(image, (x, ch) => gain(ch) * x + offset(ch));
}

/** Clamps values into [min, max] (either bound may be absent). */
export function clip(image: Image, opts: { min?: number; max?: number }): Image {
  checkImage('clip', image);
  const min = opts.min ?? -Infinity;
  const max = opts.max ?? Infinity;
  if (Number.isNaN(min) || Number.isNaN(max) || min > max)
    bad(`clip: 'min' must be <= 'max'; got ${opts.min}, ${opts.max}`);
  return mapValues(image, (x) => (x < min ? min : x > max ? max : x));
}

/** 1 where x > threshold, else 0 (threshold a scalar or one per channel). */
export function binarize(image: Image, opts: { threshold: number | readonly number[] }): Image {
  checkImage('binarize', image);
  const t = perChannelValue('binarize', 'threshold', opts.threshold, image.channels);
  return mapValues(image, (x, ch) => (x > t(ch) ? 1 : 0));
}

/** The logistic function 1 / (1 + e^-x). */
export function sigmoid(image: Image): Image {
  checkImage('sigmoid', image);
  return mapValues(image, (x) => 1 / (1 + Math.exp(-x)));
}

/** Data types ensure_dtype knows (the spec's list less 'bool'). */
export const BIOIMAGE_DTYPES = [
  'float32',
  'float64',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'uint64',
  'int64',
] as const;
export type BioimageDtype = (typeof BIOIMAGE_DTYPES)[number];

const INT_RANGE: Partial<Record<BioimageDtype, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  uint32: [0, 2 ** 32 - 1],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/**
 * The values as `dtype` holds them: integer types truncate toward zero and clamp to their range; float32
 * and float64 keep the values (the image is float32 already).
 */
export function ensureDtype(image: Image, dtype: string): Image {
  checkImage('ensure_dtype', image);
  if (!(BIOIMAGE_DTYPES as readonly string[]).includes(dtype))
    bad(`ensure_dtype: 'dtype' must be one of ${BIOIMAGE_DTYPES.join(', ')}; got ${JSON.stringify(dtype)}`);
  const range = INT_RANGE[dtype as BioimageDtype];
  if (!range) return { ...image, data: Float32Array.from(image.data) };
  const [lo, hi] = range;
  return mapValues(image, (x) => Math.min(hi, Math.max(lo, Math.trunc(x))));
}

/** One step of a model's pre- or post-processing, as imported from its rdf (names as in the spec). */
export type BioimageOp =
  | { readonly op: 'zero_mean_unit_variance'; readonly perChannel: boolean; readonly eps: number }
  | {
      readonly op: 'fixed_zero_mean_unit_variance';
      readonly mean: number | readonly number[];
      readonly std: number | readonly number[];
      readonly eps: number;
    }
  | {
      readonly op: 'scale_range';
      readonly perChannel: boolean;
      readonly minPercentile: number;
      readonly maxPercentile: number;
      readonly eps: number;
    }
  | {
      readonly op: 'scale_linear';
      readonly gain: number | readonly number[];
      readonly offset: number | readonly number[];
    }
  | { readonly op: 'clip'; readonly min?: number; readonly max?: number }
  | { readonly op: 'binarize'; readonly threshold: number | readonly number[] }
  | { readonly op: 'sigmoid' }
  | { readonly op: 'ensure_dtype'; readonly dtype: string };

/** Runs the steps in order. */
export function applyBioimageOps(image: Image, ops: readonly BioimageOp[]): Image {
  let out = image;
  for (const step of ops) {
    switch (step.op) {
      case 'zero_mean_unit_variance':
        out = zeroMeanUnitVariance(out, step);
        break;
      case 'fixed_zero_mean_unit_variance':
        out = fixedZeroMeanUnitVariance(out, step);
        break;
      case 'scale_range':
        out = scaleRange(out, step);
        break;
      case 'scale_linear':
        out = scaleLinear(out, step);
        break;
      case 'clip':
        out = clip(out, step);
        break;
      case 'binarize':
        out = binarize(out, step);
        break;
      case 'sigmoid':
        out = sigmoid(out);
        break;
      case 'ensure_dtype':
        out = ensureDtype(out, step.dtype);
        break;
      default:
        bad(`unknown bioimage.io operation ${JSON.stringify((step as { op: unknown }).op)}`);
    }
  }
  return out;
}

/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher's lower envelope of parabolas, by rows
 * then columns): for each pixel with mask != 0 the distance in px to the nearest pixel with mask == 0; 0 on
 * the background. Like `scipy.ndimage.distance_transform_edt`; pixels outside the image are not background,
 * so a mask with no background at all gets +Infinity everywhere (callers cap it).
 */
export function distanceTransform(mask: Uint8Array, height: number, width: number): Float32Array {
  if (mask.length !== height * width)
    throw new ImageError(
      'shape-mismatch',
      `distanceTransform: mask holds ${mask.length} values; ${height}x${width} needs ${height * width}`,
    );
  const INF = 1e20;
  const f = new Float64Array(Math.max(height, width));
  const d = new Float64Array(Math.max(height, width));
  const v = new Int32Array(Math.max(height, width));
  const z = new Float64Array(Math.max(height, width) + 1);
  const sq = new Float64Array(height * width);
  for (let i = 0; i < sq.length; i++) sq[i] = mask[i] ? INF : 0;
  const pass = (n: number): void => {
    let k = 0;
    v[0] = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    for (let q = 1; q < n; q++) {
      let s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!);
      while (s <= z[k]!) {
        k--;
        s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!);
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < n; q++) {
      while (z[k + 1]! < q) k++;
      d[q] = (q - v[k]!) ** 2 + f[v[k]!]!;
    }
  };
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = sq[y * width + x]!;
    pass(height);
    for (let y = 0; y < height; y++) sq[y * width + x] = d[y]!;
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) f[x] = sq[y * width + x]!;
    pass(width);
    for (let x = 0; x < width; x++) sq[y * width + x] = d[x]!;
  }
  const out = new Float32Array(height * width);
  for (let i = 0; i < out.length; i++) out[i] = sq[i]! >= INF ? Infinity : Math.sqrt(sq[i]!);
  return out;
}

export interface ForegroundWatershedOptions {
  /** A pixel is foreground when its probability is > this. @default 0.5 */
  readonly threshold?: number;
  /** Seeds: local maxima of the distance transform at least this many px apart (Chebyshev). @default 4 */
  readonly minDistance?: number;
  /** Seeds need a distance to the background > this (px). @default 1 */
  readonly minSeedDistance?: number;
  /** Objects with fewer pixels are removed. @default 10 */
  readonly minSize?: number;
}

/**
 * Foreground probability → labels: threshold, Euclidean distance transform of the foreground, one seed per
 * local maximum of the distance, watershed of the negated distance from the seeds inside the foreground
 * (touching round objects split at their neck), small objects removed, ids 1..N.
 */
export function foregroundWatershed(fg: FloatMap, opts: ForegroundWatershedOptions = {}): Labels {
  const { height, width, data } = fg;
  if (data.length !== height * width)
    throw new ImageError(
      'shape-mismatch',
      `foregroundWatershed: map holds ${data.length} values; ${height}x${width} needs ${height * width}`,
    );
  const threshold = opts.threshold ?? 0.5;
  const minDistance = opts.minDistance ?? 4;
  const minSize = opts.minSize ?? 10;
  if (!Number.isFinite(threshold)) bad(`foregroundWatershed: 'threshold' must be finite; got ${threshold}`);
  if (!Number.isInteger(minDistance) || minDistance < 1)
    bad(`foregroundWatershed: 'minDistance' must be an integer >= 1; got ${minDistance}`);
  if (!Number.isInteger(minSize) || minSize < 0)
    bad(`foregroundWatershed: 'minSize' must be an integer >= 0; got ${minSize}`);
  const mask = new Uint8Array(height * width);
  for (let i = 0; i < mask.length; i++) mask[i] = data[i]! > threshold ? 1 : 0;
  const dist = distanceTransform(mask, height, width);
  const cap = height + width;
  for (let i = 0; i < dist.length; i++) if (dist[i]! > cap) dist[i] = cap;
  const distMap = { data: dist, height, width };
  const seeds = peakLocalMax(distMap, { minDistance, thresholdAbs: opts.minSeedDistance ?? 1 });
  const seedMask = new Uint8Array(height * width);
  for (const i of seeds) seedMask[i] = 1;
  const markers = connectedComponents(seedMask, height, width, 2);
  const surface = new Float32Array(dist.length);
  for (let i = 0; i < dist.length; i++) surface[i] = -dist[i]!;
  let labels = watershed({ data: surface, height, width }, markers, mask);
  if (minSize > 1) labels = removeSmallObjects(labels, minSize);
  return relabelSequential(labels);
}

export interface BoundaryWatershedOptions {
  /** Foreground: probability > this. @default 0.5 */
  readonly threshold?: number;
  /** Seeds: foreground pixels whose boundary probability is < this, in connected groups. @default 0.5 */
  readonly boundaryThreshold?: number;
  /** Seed groups with fewer pixels are ignored. @default 4 */
  readonly minSeedSize?: number;
  /** Objects with fewer pixels are removed. @default 10 */
  readonly minSize?: number;
}

/**
 * Foreground + boundary probabilities → labels: seeds are the connected groups of foreground pixels away
 * from boundaries (fg > threshold and boundary < boundaryThreshold); they flood the boundary map (low
 * first) within the foreground, so neighbouring objects meet on their shared boundary. Ids 1..N.
 */
export function boundaryWatershed(
  fg: FloatMap,
  boundary: FloatMap,
  opts: BoundaryWatershedOptions = {},
): Labels {
  const { height, width } = fg;
  if (
    fg.data.length !== height * width ||
    boundary.height !== height ||
    boundary.width !== width ||
    boundary.data.length !== height * width
  )
    throw new ImageError(
      'shape-mismatch',
      `boundaryWatershed: fg is ${height}x${width}, boundary ${boundary.height}x${boundary.width}`,
    );
  const threshold = opts.threshold ?? 0.5;
  const bt = opts.boundaryThreshold ?? 0.5;
  const minSeed = opts.minSeedSize ?? 4;
  const minSize = opts.minSize ?? 10;
  for (const [k, v] of Object.entries({ threshold, boundaryThreshold: bt }))
    if (!Number.isFinite(v)) bad(`boundaryWatershed: '${k}' must be finite; got ${v}`);
  for (const [k, v] of Object.entries({ minSeedSize: minSeed, minSize }))
    if (!Number.isInteger(v) || v < 0) bad(`boundaryWatershed: '${k}' must be an integer >= 0; got ${v}`);
  const n = height * width;
  const mask = new Uint8Array(n);
  const seedMask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    mask[i] = fg.data[i]! > threshold ? 1 : 0;
    seedMask[i] = mask[i]! && boundary.data[i]! < bt ? 1 : 0;
  }
  let markers = connectedComponents(seedMask, height, width, 1);
  if (minSeed > 1) markers = removeSmallObjects(markers, minSeed);
  let labels = watershed(boundary, markers, mask);
  if (minSize > 1) labels = removeSmallObjects(labels, minSize);
  return relabelSequential(labels);
}
