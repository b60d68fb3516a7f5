/**
 * CLAHE: histogramNormalize, a port of DeepCell's `histogram_normalization` (min-max to [0, 1], then
 * skimage.exposure.equalize_adapthist 0.19, step by step), with its region histograms, clipping and
 * bilinear interpolation of the region mappings. Re-exported by normalize.ts.
 */
import { ImageError } from './types.js';
import type { Image } from './types.js';
import { reflectIndex } from './tiling.js';
import { checkImage, throwNonFinite } from './normalize-checks.js';

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
