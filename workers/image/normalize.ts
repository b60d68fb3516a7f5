/**
 * Intensity normalization of float images [H, W, C], one channel at a time (channels never mix).
 * - {@link percentileNormalize}: affine map sending the low/high percentiles to 0/1 (unbounded unless
 *   clipped).
 * - {@link histogramNormalize}: CLAHE, a port of DeepCell's `histogram_normalization` (min-max to [0, 1],
 *   then skimage.exposure.equalize_adapthist 0.19); output in [0, 1].
 * Both reject NaN and ±Infinity with an ImageError naming the pixel, and return new arrays.
 */
import { ImageError } from './types.js';
import type { Image } from './types.js';
import { reflectIndex } from './tiling.js';

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

/** Histogram resolution of the percentile search; 16-bit integer data lands one value per bin. */
const PERCENTILE_BINS = 65536;

/**
 * numpy.percentile(values, [low, high]) with the default linear method, for 0 <= low <= high <= 100 and a
 * non-empty array of finite values. Does not modify `values`.
 */
export function percentiles(values: Float32Array, low: number, high: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return stridedPercentiles(values, 0, 1, values.length, low, high, min, max);
}

/**
 * Percentiles of data[offset + i * stride], i < n, whose extremes are min and max. Exact: a 65536-bin
 * histogram over [min, max] locates the bins holding the needed ranks, then selection inside those bins
 * (two passes over the data; the selection touches few values unless one bin holds most of them).
 */
function stridedPercentiles(
  data: Float32Array,
  offset: number,
  stride: number,
  n: number,
  low: number,
  high: number,
  min: number,
  max: number,
): [number, number] {
  if (min === max) return [min, max];
  const scale = PERCENTILE_BINS / (max - min);
  const top = PERCENTILE_BINS - 1;
  const counts = new Uint32Array(PERCENTILE_BINS);
  for (let i = 0, p = offset; i < n; i++, p += stride) {
    const b = Math.min(top, Math.floor(((data[p] as number) - min) * scale));
    counts[b] = (counts[b] as number) + 1;
  }
  const indexLow = (n - 1) * (low / 100);
  const indexHigh = (n - 1) * (high / 100);
  const kLow = Math.floor(indexLow);
  const kHigh = Math.floor(indexHigh);
  const ranks = [kLow, Math.min(kLow + 1, n - 1), kHigh, Math.min(kHigh + 1, n - 1)];
  // Bin and rank within the bin of each needed rank; one value buffer per distinct bin (slot).
  const slotOf = new Int8Array(PERCENTILE_BINS).fill(-1);
  const buffers: Float32Array[] = [];
  const located = ranks.map((rank) => {
    let before = 0;
    let b = 0;
    while (before + (counts[b] as number) <= rank) before += counts[b++] as number;
    if (slotOf[b] === -1) {
      slotOf[b] = buffers.length;
      buffers.push(new Float32Array(counts[b] as number));
    }
    return { slot: slotOf[b] as number, within: rank - before };
  });
  const filled = new Int32Array(buffers.length);
  for (let i = 0, p = offset; i < n; i++, p += stride) {
    const v = data[p] as number;
    const slot = slotOf[Math.min(top, Math.floor((v - min) * scale))] as number;
    if (slot >= 0) (buffers[slot] as Float32Array)[filled[slot]++] = v;
  }
  const [vLow, vLow1, vHigh, vHigh1] = located.map(({ slot, within }) => {
    const values = buffers[slot] as Float32Array;
    selectKth(values, within, 0, values.length - 1);
    return values[within] as number;
  }) as [number, number, number, number];
  return [lerp(vLow, vLow1, indexLow - kLow), lerp(vHigh, vHigh1, indexHigh - kHigh)];
}

/** numpy's _lerp: exact at both ends, symmetric rounding. */
function lerp(a: number, b: number, t: number): number {
  return t < 0.5 ? a + (b - a) * t : b - (b - a) * (1 - t);
}

/**
 * Rearranges a[lo..hi] so that a[k] holds the value it would have if sorted, with a[lo..k-1] <= a[k] <=
 * a[k+1..hi] (Hoare/Wirth selection, median-of-three pivot; sorts the range if partitioning stalls).
 */
function selectKth(a: Float32Array, k: number, lo: number, hi: number): void {
  let budget = 2 * Math.ceil(Math.log2(hi - lo + 2)) + 16;
  while (hi > lo) {
    if (budget-- === 0) {
      a.subarray(lo, hi + 1).sort();
      return;
    }
    const x = median3(a[lo] as number, a[(lo + hi) >>> 1] as number, a[hi] as number);
    let i = lo;
    let j = hi;
    do {
      while ((a[i] as number) < x) i++;
      while (x < (a[j] as number)) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
}

function median3(a: number, b: number, c: number): number {
  return a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
}

function checkImage(image: Image): void {
  const { height: h, width: w, channels: c } = image;
  if (![h, w, c].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new ImageError('bad-argument', `image size ${h}x${w}x${c} must be positive integers`);
  }
  if (image.data.length !== h * w * c) {
    throw new ImageError(
      'shape-mismatch',
      `image ${h}x${w}x${c} needs ${h * w * c} values, has ${image.data.length}`,
    );
  }
}

function throwNonFinite(image: Image, ch: number): never {
  const { width: w, channels: c, data } = image;
  for (let p = ch; p < data.length; p += c) {
    const v = data[p] as number;
    if (!Number.isFinite(v)) {
      const pixel = (p - ch) / c;
      throw new ImageError(
        'bad-argument',
        `image has a non-finite value (${v}) at row ${Math.floor(pixel / w)}, column ${pixel % w}, channel ${ch}`,
      );
    }
  }
  throw new ImageError('bad-argument', `image channel ${ch} has a non-finite value`);
}

export interface ClaheOptions {
  /**
   * Contextual region size in pixels, one number for both axes or [height, width]; at most the image's
   * height and width.
   * @default - [max(1, floor(H / 8)), max(1, floor(W / 8))]
   */
  readonly kernelSize?: number | readonly [number, number];
  /**
   * Histogram clip limit as a fraction of the region's pixel count, in [0, 1]; 0 disables clipping.
   * @default 0.01
   */
  readonly clipLimit?: number;
  /** Number of grey bins of each region histogram, in [1, 16384]. @default 256 */
  readonly nbins?: number;
}

const GREY_LEVELS = 2 ** 14; // skimage NR_OF_GRAY

/**
 * Contrast-limited adaptive histogram equalization per channel, as DeepCell's `histogram_normalization`:
 * a constant channel becomes zeros; otherwise the channel is min-max scaled to [0, 1], quantized to 14 bits,
 * and equalized in contextual regions of `kernelSize` (reflect-padded at the border) whose histograms are
 * clipped at `clipLimit` and whose mappings are interpolated bilinearly between region centres; the result is
 * min-max stretched so every non-constant channel spans exactly [0, 1]. Follows skimage 0.19's
 * `equalize_adapthist` step by step (bit-identical to it in the tests). Value range [0, 1], float32. The clip
 * limit caps each region mapping's slope at about clipLimit * nbins times a plain stretch (2.56 at the
 * defaults); clipLimit 0 gives unclipped AHE. A channel whose equalized result is constant (e.g. kernelSize
 * 1, where each region holds one pixel) becomes zeros.
 * @throws ImageError 'bad-argument' for options out of range or a non-finite pixel; 'shape-mismatch' for a
 *   malformed image.
 */
export function histogramNormalize(image: Image, opts: ClaheOptions = {}): Image {
  checkImage(image);
  const { height: h, width: w, channels: c } = image;
  const { clipLimit = 0.01, nbins = 256 } = opts;
  const ks = opts.kernelSize ?? [Math.max(1, Math.floor(h / 8)), Math.max(1, Math.floor(w / 8))];
  const [kh, kw] = typeof ks === 'number' ? [ks, ks] : ks;
  if (![kh, kw].every((k) => Number.isInteger(k) && k >= 1)) {
    throw new ImageError('bad-argument', `kernelSize must be positive integers, got ${kh}x${kw}`);
  }
  if ((kh as number) > h || (kw as number) > w) {
    throw new ImageError('bad-argument', `kernelSize ${kh}x${kw} must not exceed the ${h}x${w} image`);
  }
  if (!(Number.isFinite(clipLimit) && clipLimit >= 0 && clipLimit <= 1)) {
    throw new ImageError('bad-argument', `clipLimit must be in [0, 1], got ${clipLimit}`);
  }
  if (!(Number.isInteger(nbins) && nbins >= 1 && nbins <= GREY_LEVELS)) {
    throw new ImageError('bad-argument', `nbins must be an integer in [1, ${GREY_LEVELS}], got ${nbins}`);
  }
  const out = new Float32Array(h * w * c);
  const plane = new Float64Array(h * w);
  for (let ch = 0; ch < c; ch++) {
    let min = Infinity;
    let max = -Infinity;
    let zero = 0;
    for (let i = 0, p = ch; i < h * w; i++, p += c) {
      const v = image.data[p] as number;
      plane[i] = v;
      zero += v * 0;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (zero !== 0) throwNonFinite(image, ch);
    if (min === max) continue;
    const eq = claheChannel(plane, h, w, min, max, kh as number, kw as number, clipLimit, nbins);
    for (let i = 0, p = ch; i < h * w; i++, p += c) out[p] = eq[i] as number;
  }
  return { data: out, height: h, width: w, channels: c };
}

/** numpy.round: half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function claheChannel(
  plane: Float64Array,
  h: number,
  w: number,
  min: number,
  max: number,
  kh: number,
  kw: number,
  clipLimit: number,
  nbins: number,
): Float64Array {
  // Quantize as img_as_uint → rescale_intensity(out_range=(0, 16383)) → round → // bin_size.
  const binSize = 1 + Math.floor(GREY_LEVELS / nbins);
  const nb = Math.max(nbins, Math.floor((GREY_LEVELS - 1) / binSize) + 1);
  const bins = new Uint16Array(h * w);
  for (let i = 0; i < h * w; i++) {
    const u16 = roundHalfEven((((plane[i] as number) - min) / (max - min)) * 65535);
    bins[i] = Math.floor(roundHalfEven((u16 / 65535) * (GREY_LEVELS - 1)) / binSize);
  }
  const padY = Math.floor(kh / 2);
  const padX = Math.floor(kw / 2);
  const hp = padY + h + ((kh - (h % kh)) % kh) + Math.ceil(kh / 2);
  const wp = padX + w + ((kw - (w % kw)) % kw) + Math.ceil(kw / 2);
  const nhy = hp / kh - 1;
  const nhx = wp / kw - 1;
  const rowOf = Int32Array.from({ length: hp }, (_, py) => reflectIndex(py - padY, h));
  const colOf = Int32Array.from({ length: wp }, (_, px) => reflectIndex(px - padX, w));

  const area = kh * kw;
  const clim = clipLimit > 0 ? Math.max(1, Math.trunc(clipLimit * area)) : area;
  const maps = new Int32Array(nhy * nhx * nb);
  const hist = new Int32Array(nb);
  for (let ry = 0; ry < nhy; ry++) {
    for (let rx = 0; rx < nhx; rx++) {
      hist.fill(0);
      for (let py = padY + ry * kh; py < padY + (ry + 1) * kh; py++) {
        const row = (rowOf[py] as number) * w;
        for (let px = padX + rx * kw; px < padX + (rx + 1) * kw; px++) {
          const b = bins[row + (colOf[px] as number)] as number;
          hist[b] = (hist[b] as number) + 1;
        }
      }
      clipHistogram(hist, clim);
      const base = (ry * nhx + rx) * nb;
      let cum = 0;
      const scale = (GREY_LEVELS - 1) / area;
      for (let b = 0; b < nb; b++) {
        cum += hist[b] as number;
        maps[base + b] = Math.trunc(Math.min(cum * scale, GREY_LEVELS - 1));
      }
    }
  }

  // Bilinear interpolation between the mappings of the four surrounding region centres (float32 sums,
  // truncated to integers, as skimage does), then min-max stretch to [0, 1].
  const result = new Float64Array(h * w);
  let lo = Infinity;
  let hi = -Infinity;
  // Map offsets of the regions left/right of each column and above/below each row (edge regions repeat).
  const colLeft = new Int32Array(w);
  const colRight = new Int32Array(w);
  const fxOf = new Float64Array(w);
  for (let x = 0; x < w; x++) {
    const bx = Math.floor((x + padX) / kw);
    colLeft[x] = Math.min(Math.max(bx - 1, 0), nhx - 1) * nb;
    colRight[x] = Math.min(bx, nhx - 1) * nb;
    fxOf[x] = (x + padX - bx * kw) / kw;
  }
  for (let y = 0; y < h; y++) {
    const by = Math.floor((y + padY) / kh);
    const up = Math.min(Math.max(by - 1, 0), nhy - 1) * nhx * nb;
    const down = Math.min(by, nhy - 1) * nhx * nb;
    const fy = (y + padY - by * kh) / kh;
    for (let x = 0; x < w; x++) {
      const fx = fxOf[x] as number;
      const b = bins[y * w + x] as number;
      const left = (colLeft[x] as number) + b;
      const right = (colRight[x] as number) + b;
      let r = Math.fround((maps[up + left] as number) * ((1 - fx) * (1 - fy)));
      r = Math.fround(r + Math.fround((maps[up + right] as number) * (fx * (1 - fy))));
      r = Math.fround(r + Math.fround((maps[down + left] as number) * ((1 - fx) * fy)));
      r = Math.trunc(Math.fround(r + Math.fround((maps[down + right] as number) * (fx * fy))));
      result[y * w + x] = r;
      if (r < lo) lo = r;
      if (r > hi) hi = r;
    }
  }
  if (hi === lo) return result.fill(0);
  for (let i = 0; i < h * w; i++) result[i] = ((result[i] as number) - lo) / (hi - lo);
  return result;
}

/** skimage's clip_histogram: clip bins at `clim`, redistribute the excess evenly, then one by one. */
function clipHistogram(hist: Int32Array, clim: number): void {
  const nb = hist.length;
  let excess = 0;
  for (let b = 0; b < nb; b++) {
    const v = hist[b] as number;
    if (v > clim) {
      excess += v - clim;
      hist[b] = clim;
    }
  }
  const incr = Math.floor(excess / nb);
  const upper = clim - incr;
  for (let b = 0; b < nb; b++) {
    if ((hist[b] as number) < upper) {
      hist[b] = (hist[b] as number) + incr;
      excess -= incr;
    }
  }
  for (let b = 0; b < nb; b++) {
    const v = hist[b] as number;
    if (v >= upper && v < clim) {
      excess += v - clim;
      hist[b] = clim;
    }
  }
  let under = 0;
  for (let b = 0; b < nb; b++) if ((hist[b] as number) < clim) under++;
  while (excess > 0) {
    const before = excess;
    for (let start = 0; start < nb && excess > 0; start++) {
      const step = Math.max(1, Math.floor(under / excess));
      for (let b = start; b < nb; b += step) {
        const v = hist[b] as number;
        if (v < clim) {
          hist[b] = v + 1;
          excess--;
          if (v + 1 === clim) under--;
        }
      }
    }
    if (before === excess) break;
  }
}
