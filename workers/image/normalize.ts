/**
 * Intensity normalization of float images [H, W, C], one channel at a time (channels never mix).
 * - {@link percentileNormalize}: affine map sending the low/high percentiles to 0/1 (unbounded unless
 *   clipped).
 * - {@link histogramNormalize}: CLAHE, a port of DeepCell's `histogram_normalization` (min-max to [0, 1],
 *   then skimage.exposure.equalize_adapthist 0.19); output in [0, 1].
 * Both reject NaN and ±Infinity with an ImageError naming the pixel, and return new arrays.
 * Where the parts are: percentiles.ts (the exact percentile search), clahe.ts (histogramNormalize, re-exported
 * here), normalize-checks.ts (the input checks both share).
 */
import type { Image } from './types.js';
import { checkImage, throwNonFinite } from './normalize-checks.js';
import { stridedPercentiles } from './percentiles.js';
import { ImageError } from './types.js';

export { percentiles } from './percentiles.js';
export { histogramNormalize, type ClaheOptions } from './clahe.js';

export interface PercentileOptions {
  /** Lower percentile in [0, 100), mapped to 0. @default 1 */
  readonly low?: number;
  /** Upper percentile in (low, 100], mapped to 1. @default 99.8 */
  readonly high?: number;
  /** Clip the output to [0, 1]. @default false - values below p_low are negative, above p_high exceed 1 */
  readonly clip?: boolean;
}

/**
 * Per channel, out = (x - p_low) / (p_high - p_low), where p is numpy's default ('linear') percentile of the
 * channel's H * W values (ties count with their multiplicity). If p_high == p_low (a channel where more than
 * high - low percent of pixels share one value), the channel falls back to min-max scaling
 * (x - min) / (max - min) so a sparse signal is not erased; a constant channel becomes all zeros.
 * Percentiles are exact, found by a histogram then selection within a bin (O(n) typical; O(n log n) worst
 * case, when one of 65536 value bins holds most pixels).
 * @throws ImageError 'bad-argument' for percentiles outside 0 <= low < high <= 100, a non-finite pixel
 *   (message names channel, row and column) or a malformed image ('shape-mismatch').
 */
export function percentileNormalize(image: Image, opts: PercentileOptions = {}): Image {
  const { low = 1, high = 99.8, clip = false } = opts;
  if (!(Number.isFinite(low) && Number.isFinite(high) && low >= 0 && low < high && high <= 100)) {
    throw new ImageError(
      'bad-argument',
      `percentiles must satisfy 0 <= low < high <= 100, got low ${low}, high ${high}`,
    );
  }
  checkImage(image);
  const { height, width, channels: c } = image;
  const n = height * width;
  const out = new Float32Array(n * c);
  const src = image.data;
  for (let ch = 0; ch < c; ch++) {
    let min = Infinity;
    let max = -Infinity;
    let zero = 0; // v * 0 is NaN for NaN and ±Infinity
    for (let i = 0, p = ch; i < n; i++, p += c) {
      const v = src[p] as number;
      zero += v * 0;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (zero !== 0) throwNonFinite(image, ch);
    let [pLow, pHigh] = stridedPercentiles(src, ch, c, n, low, high, min, max);
    if (pHigh === pLow) [pLow, pHigh] = [min, max];
    if (pHigh === pLow) continue; // constant channel: zeros
    const range = pHigh - pLow;
    for (let i = 0, p = ch; i < n; i++, p += c) {
      let v = ((src[p] as number) - pLow) / range;
      if (clip) v = v < 0 ? 0 : v > 1 ? 1 : v;
      out[p] = v;
    }
  }
  return { data: out, height, width, channels: c };
}
