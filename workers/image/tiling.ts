/**
 * Cutting an image [H, W, C] into square overlapping tiles for a fixed-size model, and blending the model's
 * per-tile outputs back into one [H, W, K] array.
 *
 * Tile grid, per axis of length L with tile size T and overlap v (stride at most T - v):
 * - L <= T: one tile at 0; when L < T the tile is filled by reflecting the image about its edge pixels
 *   (numpy 'reflect', repeated as often as needed, so even a 1-pixel image fills a tile);
 * - L > T: n = ceil((L - T) / (T - v)) + 1 tiles, positions floor(i * (L - T) / (n - 1)): the first at 0,
 *   the last flush with the far edge, all inside the image, evenly spread, neighbours overlapping >= v.
 * Tiles are listed row by row (y outer, x inner); the grid is the product of the two axes' positions.
 */
import { ImageError } from './types.js';
import type { Image } from './types.js';

export interface TilingOptions {
  /** Tile side in pixels, an integer >= 1. */
  readonly tileSize: number;
  /** Minimum overlap between neighbouring tiles in pixels, an integer in [0, tileSize). */
  readonly overlap: number;
}

export interface TileSet {
  /** Tile pixels, axes [N, tileSize, tileSize, C], float32, values copied from the image. */
  readonly tiles: Float32Array;
  /** N, the number of tiles. */
  readonly count: number;
  readonly tileSize: number;
  /** C, channels of the tiled image. */
  readonly channels: number;
  /** Top-left corner of each tile in image pixels (0 along an axis shorter than the tile). */
  readonly positions: readonly { readonly y: number; readonly x: number }[];
  /** Size of the tiled image. */
  readonly height: number;
  readonly width: number;
}

/** Blending window across each tile; all are separable products of a 1-D profile along y and x. */
export type TileWindow = 'hann' | 'triangle' | 'none';

export interface UntileOptions {
  /** @default 'hann' */
  readonly window?: TileWindow;
}

/** Largest tile set tileImage creates, in values (N * T * T * C): 2^28 float32 values = 1 GiB. */
export const MAX_TILE_VALUES = 2 ** 28;

/** Smallest window weight: tile borders still count a little, so every pixel has positive total weight. */
export const WINDOW_FLOOR = 1e-3;

/**
 * Cuts `image` into tiles (see the module doc for the grid). The input is not modified.
 * @throws ImageError 'bad-argument' if tileSize is not an integer >= 1, overlap not an integer in
 *   [0, tileSize), or the image size is not positive integers; 'shape-mismatch' if its data length differs
 *   from H * W * C; 'too-many-pixels' if the tiles would exceed {@link MAX_TILE_VALUES} values (a huge
 *   tileSize, or an overlap close to tileSize on a large image).
 */
export function tileImage(image: Image, opts: TilingOptions): TileSet {
  const { tileSize: t, overlap } = opts;
  if (!Number.isInteger(t) || t < 1) {
    throw new ImageError('bad-argument', `tileSize must be an integer >= 1, got ${t}`);
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= t) {
    throw new ImageError(
      'bad-argument',
      `overlap must be an integer in [0, ${t - 1}] for tileSize ${t}, got ${overlap}`,
    );
  }
  const { height: h, width: w, channels: c, data } = image;
  if (![h, w, c].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new ImageError('bad-argument', `image size ${h}x${w}x${c} must be positive integers`);
  }
  if (data.length !== h * w * c) {
    throw new ImageError(
      'shape-mismatch',
      `image ${h}x${w}x${c} needs ${h * w * c} values, has ${data.length}`,
    );
  }
  const ys = axisPositions(h, t, overlap);
  const xs = axisPositions(w, t, overlap);
  const count = ys.length * xs.length;
  if (count * t * t * c > MAX_TILE_VALUES) {
    throw new ImageError(
      'too-many-pixels',
      `${count} tiles of ${t}x${t}x${c} for a ${h}x${w} image would hold ${count * t * t * c} values, ` +
        `more than ${MAX_TILE_VALUES}`,
    );
  }
  const tiles = new Float32Array(count * t * t * c);
  const positions: { y: number; x: number }[] = [];
  const rowLen = t * c;
  // Source column of each tile column when the image is narrower than the tile (reflection).
  const reflectCols = w < t ? Int32Array.from({ length: t }, (_, j) => reflectIndex(j, w)) : undefined;
  let o = 0;
  for (const y0 of ys) {
    for (const x0 of xs) {
      positions.push({ y: y0, x: x0 });
      for (let j = 0; j < t; j++) {
        const sy = h < t ? reflectIndex(j, h) : y0 + j;
        const rowStart = sy * w * c;
        if (reflectCols === undefined) {
          const from = rowStart + x0 * c;
          tiles.set(data.subarray(from, from + rowLen), o);
          o += rowLen;
        } else {
          for (let i = 0; i < t; i++) {
            const from = rowStart + (reflectCols[i] as number) * c;
            for (let k = 0; k < c; k++) tiles[o++] = data[from + k] as number;
          }
        }
      }
    }
  }
  return { tiles, count, tileSize: t, channels: c, positions, height: h, width: w };
}

/**
 * Blends per-tile model outputs [N, T, T, K] into [H, W, K]: each image pixel is the weighted mean of the
 * tile pixels covering it, weights = window(y) * window(x) floored at {@link WINDOW_FLOOR}; reflected padding
 * is dropped. Under an identity model (outputs = set.tiles, K = C) the image is reconstructed exactly (up to
 * float32 rounding). Weights are normalized per axis ahead of time, so blending is one multiply-add per
 * tile pixel.
 * @throws ImageError 'bad-argument' for k not an integer >= 1, an unknown window or an inconsistent set;
 *   'shape-mismatch' if outputs.length != N * T * T * K.
 */
export function untile(
  outputs: Float32Array,
  set: TileSet,
  k: number,
  opts: UntileOptions = {},
): Float32Array {
  const { tileSize: t, count, height: h, width: w } = set;
  const window = opts.window ?? 'hann';
  if (!Number.isInteger(k) || k < 1) {
    throw new ImageError('bad-argument', `k (output channels) must be an integer >= 1, got ${k}`);
  }
  if (window !== 'hann' && window !== 'triangle' && window !== 'none') {
    throw new ImageError(
      'bad-argument',
      `window must be 'hann', 'triangle' or 'none', got '${String(window)}'`,
    );
  }
  if (![t, h, w].every((v) => Number.isInteger(v) && v >= 1) || set.positions.length !== count) {
    throw new ImageError(
      'bad-argument',
      `tile set is inconsistent: tileSize ${t}, image ${h}x${w}, count ${count}, ${set.positions.length} positions`,
    );
  }
  if (outputs.length !== count * t * t * k) {
    throw new ImageError(
      'shape-mismatch',
      `outputs hold ${outputs.length} values but ${count} tiles of ${t}x${t}x${k} need ${count * t * t * k}`,
    );
  }
  const ys = [...new Set(set.positions.map((p) => p.y))].sort((a, b) => a - b);
  const xs = [...new Set(set.positions.map((p) => p.x))].sort((a, b) => a - b);
  if (
    ys.length * xs.length !== count ||
    set.positions.some((p) => p.y < 0 || p.x < 0 || p.y + Math.min(t, h) > h || p.x + Math.min(t, w) > w)
  ) {
    throw new ImageError('bad-argument', `tile positions do not form a grid inside the ${h}x${w} image`);
  }
  const profile = windowProfile(window, t);
  const wy = normalizedWeights(profile, ys, h, t);
  const wx = normalizedWeights(profile, xs, w, t);
  const out = new Float64Array(h * w * k); // float64 sums: exact to float32 rounding with many overlaps
  const rows = Math.min(t, h);
  const cols = Math.min(t, w);
  for (let n = 0; n < count; n++) {
    const { y: y0, x: x0 } = set.positions[n] as { y: number; x: number };
    const wyt = wy.get(y0) as Float64Array;
    const wxt = wx.get(x0) as Float64Array;
    const tileBase = n * t * t * k;
    for (let j = 0; j < rows; j++) {
      const ay = wyt[j] as number;
      const src = tileBase + j * t * k;
      const dst = ((y0 + j) * w + x0) * k;
      if (k === 1) {
        for (let i = 0; i < cols; i++) {
          out[dst + i] = (out[dst + i] as number) + ay * (wxt[i] as number) * (outputs[src + i] as number);
        }
        continue;
      }
      for (let i = 0; i < cols; i++) {
        const a = ay * (wxt[i] as number);
        const s = src + i * k;
        const d = dst + i * k;
        for (let q = 0; q < k; q++) out[d + q] = (out[d + q] as number) + a * (outputs[s + q] as number);
      }
    }
  }
  return new Float32Array(out);
}

/** Tile start positions along one axis (module doc). */
export function axisPositions(length: number, tileSize: number, overlap: number): number[] {
  if (length <= tileSize) return [0];
  const span = length - tileSize;
  const n = Math.ceil(span / (tileSize - overlap)) + 1;
  return Array.from({ length: n }, (_, i) => Math.floor((i * span) / (n - 1)));
}

/** 1-D window of length t sampled at pixel centres, floored at WINDOW_FLOOR. */
function windowProfile(window: TileWindow, t: number): Float64Array {
  return Float64Array.from({ length: t }, (_, j) => {
    const u = (j + 0.5) / t; // in (0, 1)
    const v =
      window === 'hann' ? Math.sin(Math.PI * u) ** 2 : window === 'triangle' ? 1 - Math.abs(2 * u - 1) : 1;
    return Math.max(v, WINDOW_FLOOR);
  });
}

/**
 * For each tile start along an axis, profile[j] / (sum over tiles covering that pixel of their profile value):
 * the 2-D weight of tile pixel (j, i) is then wy[j] * wx[i], and the weights at each image pixel sum to 1.
 */
function normalizedWeights(
  profile: Float64Array,
  starts: number[],
  length: number,
  t: number,
): Map<number, Float64Array> {
  const total = new Float64Array(length);
  const used = Math.min(t, length);
  for (const s of starts)
    for (let j = 0; j < used; j++) total[s + j] = (total[s + j] as number) + (profile[j] as number);
  const out = new Map<number, Float64Array>();
  for (const s of starts) {
    out.set(
      s,
      Float64Array.from({ length: used }, (_, j) => (profile[j] as number) / (total[s + j] as number)),
    );
  }
  return out;
}

/** numpy 'reflect' padding index (mirror about the edge pixel, no repeat), any distance. */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n - 2;
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}
