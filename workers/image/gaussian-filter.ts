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
  const [w1, w2, w3, w4] = radius === 4 ? [1, 2, 3, 4].map((k) => weights[4 + k]!) : [0, 0, 0, 0];
  // Rows: the kernel is symmetric, so interior pixels sum w_k * (left_k + right_k); pixels within `radius`
  // of an edge read their taps through the reflected index table.
  const rows = new Float32Array(height * width);
  const sums = new Float64Array(width); // one row of float64 sums (radius other than 4)
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
    if (radius === 4) {
      // sigma ~1 (the pipeline's default smoothing): the taps as locals, the same sums in the same order
      for (let i = b + inner0; i < b + inner1; i++) {
        let acc = w0 * src[i]!;
        acc += w1 * (src[i - 1]! + src[i + 1]!);
        acc += w2 * (src[i - 2]! + src[i + 2]!);
        acc += w3 * (src[i - 3]! + src[i + 3]!);
        acc += w4 * (src[i - 4]! + src[i + 4]!);
        rows[i] = acc;
      }
    } else if (inner1 > inner0) {
      // any other radius: tap by tap over the row's interior (one multiply-add per step, no inner loop per
      // pixel), each pixel still summed in the same order (centre, then k = 1..radius) in float64
      const n = inner1 - inner0;
      const s0 = b + inner0;
      for (let j = 0; j < n; j++) sums[j] = w0 * src[s0 + j]!;
      // four taps per sweep (fewer sweeps over the sums), added one after another as before
      let k = 1;
      for (; k + 3 <= radius; k += 4) {
        const [wa, wb, wc, wd] = [
          weights[radius + k]!,
          weights[radius + k + 1]!,
          weights[radius + k + 2]!,
          weights[radius + k + 3]!,
        ];
        for (let j = 0, i = s0; j < n; j++, i++) {
          let a = sums[j]!;
          a += wa * (src[i - k]! + src[i + k]!);
          a += wb * (src[i - k - 1]! + src[i + k + 1]!);
          a += wc * (src[i - k - 2]! + src[i + k + 2]!);
          a += wd * (src[i - k - 3]! + src[i + k + 3]!);
          sums[j] = a;
        }
      }
      for (; k <= radius; k++) {
        const wk = weights[radius + k]!;
        for (let j = 0, i = s0; j < n; j++, i++) sums[j]! += wk * (src[i - k]! + src[i + k]!);
      }
      for (let j = 0; j < n; j++) rows[s0 + j] = sums[j]!;
    }
    for (let x = inner1; x < width; x++) {
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += weights[k]! * src[b + xIndex[x + k]!]!;
      rows[b + x] = acc;
    }
  }
  // Columns: whole rows at a time (contiguous reads), summed symmetrically in float64, per pixel in the
  // same order as the rows (centre, then k = 1..radius); the float64 sum is rounded to float32 once.
  const out = new Float32Array(height * width);
  const yIndex = reflectedIndices(height, radius);
  const up = new Int32Array(radius + 1);
  const down = new Int32Array(radius + 1);
  for (let y = 0; y < height; y++) {
    const c = y * width;
    for (let k = 1; k <= radius; k++) {
      up[k] = yIndex[y + radius - k]! * width;
      down[k] = yIndex[y + radius + k]! * width;
    }
    if (radius === 4) {
      const [u1, u2, u3, u4] = [up[1]!, up[2]!, up[3]!, up[4]!];
      const [d1, d2, d3, d4] = [down[1]!, down[2]!, down[3]!, down[4]!];
      for (let x = 0; x < width; x++) {
        let acc = w0 * rows[c + x]!;
        acc += w1 * (rows[u1 + x]! + rows[d1 + x]!);
        acc += w2 * (rows[u2 + x]! + rows[d2 + x]!);
        acc += w3 * (rows[u3 + x]! + rows[d3 + x]!);
        acc += w4 * (rows[u4 + x]! + rows[d4 + x]!);
        out[c + x] = acc;
      }
    } else {
      for (let x = 0; x < width; x++) sums[x] = w0 * rows[c + x]!;
      let k = 1;
      for (; k + 3 <= radius; k += 4) {
        const [wa, wb, wc, wd] = [
          weights[radius + k]!,
          weights[radius + k + 1]!,
          weights[radius + k + 2]!,
          weights[radius + k + 3]!,
        ];
        const [ua, ub, uc, ud] = [up[k]!, up[k + 1]!, up[k + 2]!, up[k + 3]!];
        const [da, db, dc, dd] = [down[k]!, down[k + 1]!, down[k + 2]!, down[k + 3]!];
        for (let x = 0; x < width; x++) {
          let a = sums[x]!;
          a += wa * (rows[ua + x]! + rows[da + x]!);
          a += wb * (rows[ub + x]! + rows[db + x]!);
          a += wc * (rows[uc + x]! + rows[dc + x]!);
          a += wd * (rows[ud + x]! + rows[dd + x]!);
          sums[x] = a;
        }
      }
      for (; k <= radius; k++) {
        const wk = weights[radius + k]!;
        const u = up[k]!;
        const d = down[k]!;
        for (let x = 0; x < width; x++) sums[x]! += wk * (rows[u + x]! + rows[d + x]!);
      }
      for (let x = 0; x < width; x++) out[c + x] = sums[x]!;
    }
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
