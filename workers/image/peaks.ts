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
 * Blocks of k = 2r+1 elements along an axis: fwd = running max from the block start, bwd = from the block
 * end; an unclipped window [i-r, i+r] spans at most two blocks, so its max is max(bwd[i-r], fwd[i+r]).
 * The column pass works on whole rows at a time, so every memory access is contiguous.
 */
export function maxFilterSquare(src: Float32Array, height: number, width: number, r: number): Float32Array {
  const rows = new Float32Array(height * width);
  const fwd = new Float32Array(Math.max(width, 1));
  const bwd = new Float32Array(Math.max(width, 1));
  for (let y = 0; y < height; y++) rowMax(src, rows, y * width, width, r, fwd, bwd);
  return columnMax(rows, height, width, r);
}

/** Clipped running max of radius r along one row of n values at `base`, from src into out. */
function rowMax(
  src: Float32Array,
  out: Float32Array,
  base: number,
  n: number,
  r: number,
  fwd: Float32Array,
  bwd: Float32Array,
): void {
  const k = 2 * r + 1;
  for (let s = 0; s < n; s += k) {
    const e = s + k < n ? s + k : n;
    let m = src[base + s]!;
    for (let j = s; j < e; j++) {
      const v = src[base + j]!;
      if (v > m) m = v;
      fwd[j] = m;
    }
    m = src[base + e - 1]!;
    for (let j = e - 1; j >= s; j--) {
      const v = src[base + j]!;
      if (v > m) m = v;
      bwd[j] = m;
    }
  }
  const lastBlock = Math.floor((n - 1) / k) * k;
  const head = r < n ? r : n;
  // Clipped at the start: [0, j + r] lies in block 0, whose running max from the start is exact.
  for (let j = 0; j < head; j++) out[base + j] = fwd[j + r < n ? j + r : n - 1]!;
  for (let j = r; j + r < n; j++) {
    const a = bwd[j - r]!;
    const b = fwd[j + r]!;
    out[base + j] = a > b ? a : b;
  }
  // Clipped at the end: [j - r, n - 1]; the last block's bwd runs to n - 1.
  for (let j = Math.max(r, n - r); j < n; j++) {
    const a = bwd[j - r]!;
    if (j - r >= lastBlock) out[base + j] = a;
    else {
      const b = fwd[n - 1]!;
      out[base + j] = a > b ? a : b;
    }
  }
}

/** The same running max down the columns, computed a whole row at a time. */
function columnMax(src: Float32Array, height: number, width: number, r: number): Float32Array {
  const k = 2 * r + 1;
  const n = height * width;
  const fwd = new Float32Array(n);
  const bwd = new Float32Array(n);
  for (let s = 0; s < height; s += k) {
    const e = s + k < height ? s + k : height;
    fwd.set(src.subarray(s * width, (s + 1) * width), s * width);
    for (let y = s + 1; y < e; y++) {
      const o = y * width;
      for (let x = o; x < o + width; x++) {
        const a = fwd[x - width]!;
        const v = src[x]!;
        fwd[x] = v > a ? v : a;
      }
    }
    bwd.set(src.subarray((e - 1) * width, e * width), (e - 1) * width);
    for (let y = e - 2; y >= s; y--) {
      const o = y * width;
      for (let x = o; x < o + width; x++) {
        const a = bwd[x + width]!;
        const v = src[x]!;
        bwd[x] = v > a ? v : a;
      }
    }
  }
  const out = new Float32Array(n);
  const lastBlock = Math.floor((height - 1) / k) * k;
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const lo = y - r;
    const hi = y + r;
    if (lo < 0) {
      const h = (hi < height ? hi : height - 1) * width;
      out.set(fwd.subarray(h, h + width), o);
    } else if (hi >= height && lo >= lastBlock) {
      out.set(bwd.subarray(lo * width, (lo + 1) * width), o);
    } else {
      const a0 = lo * width;
      const b0 = (hi < height ? hi : height - 1) * width;
      for (let x = 0; x < width; x++) {
        const a = bwd[a0 + x]!;
        const b = fwd[b0 + x]!;
        out[o + x] = a > b ? a : b;
      }
    }
  }
  return out;
}
