/**
 * Gaussian smoothing of a float map, matching `scipy.ndimage.gaussian_filter(map, sigma)` with its defaults
 * (truncate = 4: kernel radius round(4 * sigma); mode 'reflect': d c b a | a b c d | d c b a).
 */
import { assertNumber, assertPlane } from './array-checks.js';
import { ImageError, type FloatMap } from './types.js';

/** Largest accepted sigma, in pixels: the kernel spans 8 * sigma + 1 taps, and nothing here needs more. */
export const MAX_GAUSSIAN_SIGMA = 64;

/**
 * Smooths `map` (axes [H, W]) with an isotropic Gaussian of standard deviation `sigma` pixels, separably
 * (rows, then columns; each pass sums in float64 and stores float32, as scipy does for float32 input).
 * sigma 0 returns a copy. A constant map stays constant (the kernel sums to 1).
 * Throws ImageError 'bad-argument' if sigma is not a finite number in [0, 64].
 */
export function gaussianFilter(map: FloatMap, sigma: number): FloatMap {
  assertPlane('map', map);
  assertNumber('sigma', sigma, 0);
  if (sigma > MAX_GAUSSIAN_SIGMA) {
    throw new ImageError('bad-argument', `'sigma' must be <= ${MAX_GAUSSIAN_SIGMA} px, got ${sigma}`);
  }
  const { height, width } = map;
  const radius = Math.floor(4 * sigma + 0.5);
  if (radius === 0 || height === 0 || width === 0) return { data: new Float32Array(map.data), height, width };
  const weights = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++)
    sum += weights[k + radius] = Math.exp((-0.5 * k * k) / (sigma * sigma));
  for (let k = 0; k < weights.length; k++) weights[k]! /= sum;

  const src = map.data;
  const taps = weights.length;
  const w0 = weights[radius]!;
  // Rows: the kernel is symmetric, so interior pixels sum w_k * (left_k + right_k); pixels within `radius`
  // of an edge read their taps through the reflected index table.
  const rows = new Float32Array(height * width);
  const xIndex = reflectedIndices(width, radius);
  const inner0 = Math.min(radius, width);
  const inner1 = Math.max(inner0, width - radius);
  for (let y = 0; y < height; y++) {
    const b = y * width;
    for (let x = 0; x < inner0; x++) {
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += weights[k]! * src[b + xIndex[x + k]!]!;
      rows[b + x] = acc;
    }
    for (let i = b + inner0; i < b + inner1; i++) {
      let acc = w0 * src[i]!;
      for (let k = 1; k <= radius; k++) acc += weights[radius + k]! * (src[i - k]! + src[i + k]!);
      rows[i] = acc;
    }
    for (let x = inner1; x < width; x++) {
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += weights[k]! * src[b + xIndex[x + k]!]!;
      rows[b + x] = acc;
    }
  }
  // Columns: whole rows at a time (contiguous reads), summed symmetrically in float64.
  const out = new Float32Array(height * width);
  const yIndex = reflectedIndices(height, radius);
  const acc = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    const c = y * width;
    for (let x = 0; x < width; x++) acc[x] = w0 * rows[c + x]!;
    for (let k = 1; k <= radius; k++) {
      const wk = weights[radius + k]!;
      const up = yIndex[y + radius - k]! * width;
      const down = yIndex[y + radius + k]! * width;
      for (let x = 0; x < width; x++) acc[x]! += wk * (rows[up + x]! + rows[down + x]!);
    }
    out.set(acc, c);
  }
  return { data: out, height, width };
}

/** For positions -r .. n - 1 + r (stored from index 0), the in-range index under scipy's 'reflect' mode. */
function reflectedIndices(n: number, r: number): Int32Array {
  const idx = new Int32Array(n + 2 * r);
  for (let j = 0; j < idx.length; j++) {
    let i = j - r;
    // Reflect repeatedly (the kernel may be longer than the line): period 2n.
    i = ((i % (2 * n)) + 2 * n) % (2 * n);
    idx[j] = i < n ? i : 2 * n - 1 - i;
  }
  return idx;
}
