/**
 * Local maxima of a float map, like `skimage.feature.peak_local_max` with an absolute threshold.
 */
import { assertFinite, assertInteger, assertNumber, assertPlane } from './array-checks.js';
import { ImageError, type FloatMap } from './types.js';

export interface PeakOptions {
  /**
   * Half-width of the square search window, in pixels (integer >= 1): a peak is the maximum of the
   * (2 * minDistance + 1)^2 window around it, and no two peaks are closer than `minDistance` along both
   * axes (Chebyshev distance < minDistance).
   */
  readonly minDistance: number;
  /** A peak must be strictly greater than this value. */
  readonly thresholdAbs: number;
  /**
   * When true, no peak lies within `minDistance` pixels of the image edge (skimage's default).
   * @default false - peaks may touch the edge (as DeepCell's deep_watershed calls it)
   */
  readonly excludeBorder?: boolean;
}

/**
 * Flat indices (y * width + x) of the local maxima of `map` (axes [H, W], any finite float values).
 *
 * A pixel is a candidate when it equals the maximum of its (2d+1)^2 window (clipped at the image edge, which
 * is the same as skimage's zero padding for non-negative maps) and is > `thresholdAbs`.
 * - Plateaus: 8-connected candidates always share one value (each is >= the other); such a plateau gives ONE
 *   peak, its first pixel in raster order (outside the border band when `excludeBorder`).
 * - Spacing: peaks are taken by decreasing value, ties in raster order; a peak closer than `minDistance`
 *   (Chebyshev) to one already taken is dropped, as skimage's `ensure_spacing` does.
 * - A constant map (every pixel equals its window maximum) has no peaks; so has an empty (0-pixel) map.
 * Result order: decreasing value, ties by increasing index.
 *
 * Throws ImageError: 'shape-mismatch' if data.length != H*W; 'bad-argument' for a non-finite pixel,
 * `minDistance` not an integer >= 1, or a non-finite `thresholdAbs`.
 */
export function peakLocalMax(map: FloatMap, opts: PeakOptions): Int32Array {
  assertPlane('map', map);
  if (typeof opts !== 'object' || opts === null)
    throw new ImageError('bad-argument', 'peakLocalMax: options are required');
  assertInteger('minDistance', opts.minDistance, 1);
  assertNumber('thresholdAbs', opts.thresholdAbs);
  assertFinite('map', map);
  const { data, height, width } = map;
  const d = opts.minDistance;
  const n = height * width;
  if (n === 0) return new Int32Array(0);
  const windowMax = maxFilterSquare(data, height, width, d);

  // 1 = candidate, 2 = candidate already grouped into a plateau.
  const flag = new Uint8Array(n);
  let trivial = true;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (v !== windowMax[i]) trivial = false;
    else if (v > opts.thresholdAbs) flag[i] = 1;
  }
  if (trivial) return new Int32Array(0);

  const band = opts.excludeBorder ? d : 0;
  const inside = (i: number): boolean => {
    const y = (i / width) | 0;
    const x = i - y * width;
    return y >= band && y < height - band && x >= band && x < width - band;
  };
  const reps: number[] = [];
  const stack = new Int32Array(n);
  for (let start = 0; start < n; start++) {
    if (flag[start] !== 1) continue;
    // Flood the 8-connected plateau; keep its first pixel in raster order that lies inside the band.
    let best = -1;
    let top = 0;
    stack[top++] = start;
    flag[start] = 2;
    while (top > 0) {
      const i = stack[--top]!;
      if ((best < 0 || i < best) && inside(i)) best = i;
      const y = (i / width) | 0;
      const x = i - y * width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const j = yy * width + xx;
          if (flag[j] === 1) {
            flag[j] = 2;
            stack[top++] = j;
          }
        }
      }
    }
    if (best >= 0) reps.push(best);
  }

  reps.sort((a, b) => data[b]! - data[a]! || a - b);
  // Greedy spacing on a grid of d x d cells: two kept peaks are >= d apart, so a cell holds at most one,
  // and a peak closer than d to a kept one lies in one of the 3 x 3 cells around it.
  const cellsX = Math.ceil(width / d);
  const cellsY = Math.ceil(height / d);
  const cell = new Int32Array(cellsX * cellsY).fill(-1);
  const kept: number[] = [];
  for (const i of reps) {
    const y = (i / width) | 0;
    const x = i - y * width;
    const cy = (y / d) | 0;
    const cx = (x / d) | 0;
    let clear = true;
    for (let gy = Math.max(0, cy - 1); clear && gy <= Math.min(cellsY - 1, cy + 1); gy++) {
      for (let gx = Math.max(0, cx - 1); gx <= Math.min(cellsX - 1, cx + 1); gx++) {
        const j = cell[gy * cellsX + gx]!;
        if (j < 0) continue;
        const jy = (j / width) | 0;
        const jx = j - jy * width;
        if (Math.abs(jy - y) < d && Math.abs(jx - x) < d) {
          clear = false;
          break;
        }
      }
    }
    if (!clear) continue;
    cell[cy * cellsX + cx] = i;
    kept.push(i);
  }
  return Int32Array.from(kept);
}

/**
 * Maximum over the (2r+1) x (2r+1) square around each pixel, the window clipped at the edges, of a row-major
 * [H, W] array. Separable van Herk / Gil-Werman: about 3 comparisons per pixel per axis, whatever r is.
 * The column pass runs over whole rows at a time, so every memory access is contiguous.
 */
export function maxFilterSquare(
  src: ArrayLike<number>,
  height: number,
  width: number,
  r: number,
): Float32Array {
  const rows = new Float32Array(height * width);
  const fwd = new Float32Array(height * width);
  const bwd = new Float32Array(height * width);
  // Rows: each row is a line of `width` elements, stride 1; "lanes" = 1.
  for (let y = 0; y < height; y++) runningMax(src, rows, fwd, bwd, y * width, 1, width, 1, r);
  // Columns: lines of `height` elements, stride `width`, `width` lanes processed together.
  const out = new Float32Array(height * width);
  runningMax(rows, out, fwd, bwd, 0, width, height, width, r);
  return out;
}

/**
 * Clipped running maximum of radius r along lines of n elements at `stride`, for `lanes` adjacent lines
 * (element j of lane l is at base + j * stride + l). fwd/bwd: scratch as large as the region.
 * Blocks of k = 2r+1 elements: fwd = prefix max within a block, bwd = suffix max; an unclipped window
 * [i-r, i+r] spans at most two blocks, so its max is max(bwd[i-r], fwd[i+r]).
 */
function runningMax(
  src: ArrayLike<number>,
  out: Float32Array,
  fwd: Float32Array,
  bwd: Float32Array,
  base: number,
  stride: number,
  n: number,
  lanes: number,
  r: number,
): void {
  const k = 2 * r + 1;
  for (let s = 0; s < n; s += k) {
    const e = Math.min(n, s + k);
    for (let l = 0; l < lanes; l++) {
      let i = base + s * stride + l;
      let m = src[i]!;
      fwd[i] = m;
      for (let j = s + 1; j < e; j++) {
        i += stride;
        const v = src[i]!;
        if (v > m) m = v;
        fwd[i] = m;
      }
      i = base + (e - 1) * stride + l;
      m = src[i]!;
      bwd[i] = m;
      for (let j = e - 2; j >= s; j--) {
        i -= stride;
        const v = src[i]!;
        if (v > m) m = v;
        bwd[i] = m;
      }
    }
  }
  const lastBlock = Math.floor((n - 1) / k) * k;
  for (let j = 0; j < n; j++) {
    const o = base + j * stride;
    if (j < r) {
      // Window clipped at the start: [0, hi] lies in block 0, whose prefix max is exact.
      const h = base + Math.min(j + r, n - 1) * stride;
      for (let l = 0; l < lanes; l++) out[o + l] = fwd[h + l]!;
    } else if (j + r < n) {
      const a = base + (j - r) * stride;
      const b = base + (j + r) * stride;
      for (let l = 0; l < lanes; l++) {
        const u = bwd[a + l]!;
        const v = fwd[b + l]!;
        out[o + l] = u > v ? u : v;
      }
    } else {
      // Clipped at the end: [lo, n-1]; the last block's suffix max ends at n - 1.
      const a = base + (j - r) * stride;
      const b = base + (n - 1) * stride;
      if (j - r >= lastBlock) for (let l = 0; l < lanes; l++) out[o + l] = bwd[a + l]!;
      else
        for (let l = 0; l < lanes; l++) {
          const u = bwd[a + l]!;
          const v = fwd[b + l]!;
          out[o + l] = u > v ? u : v;
        }
    }
  }
}
