/**
 * Showing a microscopy image on screen: pick one 2-D plane of a decoded file and map its values to grey
 * RGBA through a contrast window. Pure (typed arrays in and out).
 */
import type { RawArray, TypedPixels } from '../../../workers/image/types.js';

/** One plane [H, W] of float values in the file's units. */
export interface Plane {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/**
 * The plane to show from a decoded file (axes as tiff-read / png give them, e.g. 'YX', 'YXS', 'CYX', 'ZCYX'):
 * channel `channel` of the C or S axis (clamped to the last channel when the file has fewer), index 0 of
 * every other non-spatial axis. Throws RangeError when the array has no Y and X axes.
 */
export function planeOf(raw: RawArray, channel = 0): Plane {
  const yi = raw.axes.indexOf('Y');
  const xi = raw.axes.indexOf('X');
  if (yi < 0 || xi < 0) throw new RangeError(`image axes '${raw.axes}' have no Y and X`);
  const height = raw.shape[yi]!;
  const width = raw.shape[xi]!;
  const strides = new Array<number>(raw.shape.length);
  let s = 1;
  for (let a = raw.shape.length - 1; a >= 0; a--) {
    strides[a] = s;
    s *= raw.shape[a]!;
  }
  let base = 0;
  const chanAxis = raw.axes.includes('C') ? raw.axes.indexOf('C') : raw.axes.indexOf('S');
  if (chanAxis >= 0) base += Math.min(Math.max(0, channel), raw.shape[chanAxis]! - 1) * strides[chanAxis]!;
  const data = new Float32Array(width * height);
  const sy = strides[yi]!;
  const sx = strides[xi]!;
  const src: TypedPixels = raw.data;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data[y * width + x] = src[base + y * sy + x * sx]!;
  return { data, width, height };
}

/**
 * The values at the `lowPct` and `highPct` percentiles (0..100, nearest rank on the sorted values, NaN
 * skipped). A constant plane gives low = high; an empty one [0, 0].
 */
export function percentileWindow(data: Float32Array, lowPct: number, highPct: number): [number, number] {
  const vals = data.filter((v) => !Number.isNaN(v)).sort();
  if (vals.length === 0) return [0, 0];
  const at = (p: number) => vals[Math.round((Math.min(100, Math.max(0, p)) / 100) * (vals.length - 1))]!;
  return [at(lowPct), at(highPct)];
}

/**
 * Grey RGBA [H, W, 4] of a plane: value v → 255·(v − low)/(high − low), clamped to 0..255, opaque.
 * When high ≤ low (a constant image) every pixel is mid-grey 128, not black; NaN is black.
 */
export function toGreyRgba(
  plane: Plane,
  low: number,
  high: number,
  out?: Uint8ClampedArray,
): Uint8ClampedArray {
  const n = plane.width * plane.height;
  const rgba = out ?? new Uint8ClampedArray(n * 4);
  if (rgba.length !== n * 4) throw new RangeError(`out has ${rgba.length} values, expected ${n * 4}`);
  const span = high - low;
  for (let i = 0; i < n; i++) {
    const v = plane.data[i]!;
    const g = Number.isNaN(v) ? 0 : span > 0 ? (255 * (v - low)) / span : 128;
    const o = i * 4;
    rgba[o] = rgba[o + 1] = rgba[o + 2] = g;
    rgba[o + 3] = 255;
  }
  return rgba;
}

/**
 * The contrast slider: `saturatePct` (0..20) of the pixels at each end go black / white. 0 = the full
 * min..max range; the default 0.5 matches a typical auto-contrast.
 */
export function contrastWindow(plane: Plane, saturatePct: number): [number, number] {
  const s = Math.min(20, Math.max(0, saturatePct));
  return percentileWindow(plane.data, s, 100 - s);
}
