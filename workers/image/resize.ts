/**
 * Resampling of images [H, W, C], label images [H, W] and float maps [H, W] to a new size or pixel size.
 *
 * Geometry: pixel-centre aligned. Output pixel o along an axis of input length n and output length m
 * samples the input at coordinate (o + 0.5) * n / m - 0.5, so the image corners stay where they were.
 * - Bilinear (order 1) interpolates between the two nearest input pixels; coordinates outside the image take
 *   the edge pixel (clamped, like skimage.transform.resize(order=1, mode='edge', anti_aliasing=False) and
 *   OpenCV INTER_LINEAR): a linear ramp stays linear in the interior and edge values are preserved.
 * - When an axis shrinks by more than 2x, point sampling would alias; that axis instead averages the input
 *   footprint of each output pixel, [o * n/m, (o + 1) * n/m), weighting partly covered pixels by their
 *   covered fraction (an exact box filter; equals block averaging for integer factors).
 * Both are weighted means of input values, so outputs stay within the input's range; a NaN input spreads to
 * the output pixels that give it a non-zero weight.
 * The two axes are resampled one after the other with precomputed per-axis weights.
 */
import { ImageError } from './types.js';
import type { FloatMap, Image, Labels } from './types.js';

/** Largest output a resize may create, in values (H * W * C): 2^28 float32 values = 1 GiB. */
export const MAX_RESIZE_VALUES = 2 ** 28;

/** Sparse resampling weights along one axis: output o reads `count` inputs from `start[o]`. */
interface AxisWeights {
  readonly start: Int32Array;
  readonly taps: number;
  /** [m, taps] weights, row o for output o; unused taps have weight 0 and a clamped index. */
  readonly weights: Float64Array;
  readonly inLength: number;
}

/**
 * Resizes `image` to `height` x `width` (bilinear; area average along any axis shrunk more than 2x).
 * Returns a new image with the same channel count; the input is not modified.
 * @throws ImageError 'bad-argument' for a non-positive or non-integer size, 'shape-mismatch' if the data
 *   length is not H * W * C, 'too-many-pixels' if the output would hold more than
 *   {@link MAX_RESIZE_VALUES} values.
 */
export function resizeBilinear(image: Image, height: number, width: number): Image {
  checkImage(image.data.length, image.height, image.width, image.channels, 'image');
  checkTarget(height, width, image.channels);
  const data = resample(image.data, image.height, image.width, image.channels, height, width);
  return { data, height, width, channels: image.channels };
}

/** {@link resizeBilinear} for a single-channel float map [H, W]. Same errors. */
export function resizeMap(map: FloatMap, height: number, width: number): FloatMap {
  checkImage(map.data.length, map.height, map.width, 1, 'map');
  checkTarget(height, width, 1);
  return { data: resample(map.data, map.height, map.width, 1, height, width), height, width };
}

/**
 * Resizes a label image by nearest neighbour: output (oy, ox) copies input
 * (floor((oy + 0.5) * H / height), floor((ox + 0.5) * W / width)), computed in exact integer arithmetic.
 * Every output label exists in the input (no label is invented); small objects can vanish when shrinking.
 * @throws ImageError 'bad-argument' / 'too-many-pixels' / 'shape-mismatch' as {@link resizeBilinear}.
 */
export function resizeNearest(labels: Labels, height: number, width: number): Labels {
  checkImage(labels.data.length, labels.height, labels.width, 1, 'labels');
  checkTarget(height, width, 1);
  const rows = nearestIndex(labels.height, height);
  const cols = nearestIndex(labels.width, width);
  const data = new Uint32Array(height * width);
  const src = labels.data;
  for (let y = 0, o = 0; y < height; y++) {
    const rowBase = (rows[y] as number) * labels.width;
    for (let x = 0; x < width; x++) data[o++] = src[rowBase + (cols[x] as number)] as number;
  }
  return { data, height, width };
}

/**
 * Rescales an image from `fromMpp` to `toMpp` µm per pixel: scale = fromMpp / toMpp, output size
 * max(1, round(H * scale)) x max(1, round(W * scale)) (e.g. 0.65 → 0.5 µm/px enlarges by 1.3x).
 * @throws ImageError 'bad-argument' unless both pixel sizes are positive finite numbers,
 *   'too-many-pixels' if the result would exceed {@link MAX_RESIZE_VALUES} values.
 */
export function rescaleByMpp(image: Image, fromMpp: number, toMpp: number): Image {
  const [h, w] = scaledSize(image.height, image.width, fromMpp, toMpp, image.channels);
  return resizeBilinear(image, h, w);
}

/** {@link rescaleByMpp} for label images (nearest neighbour). Same errors. */
export function rescaleLabelsByMpp(labels: Labels, fromMpp: number, toMpp: number): Labels {
  const [h, w] = scaledSize(labels.height, labels.width, fromMpp, toMpp, 1);
  return resizeNearest(labels, h, w);
}

function scaledSize(h: number, w: number, fromMpp: number, toMpp: number, c: number): [number, number] {
  for (const [name, v] of [
    ['fromMpp', fromMpp],
    ['toMpp', toMpp],
  ] as const) {
    if (!Number.isFinite(v) || v <= 0) {
      throw new ImageError('bad-argument', `'${name}' must be a positive finite µm/px value, got ${v}`);
    }
  }
  const scale = fromMpp / toMpp;
  const out: [number, number] = [Math.max(1, Math.round(h * scale)), Math.max(1, Math.round(w * scale))];
  if (!Number.isFinite(out[0] * out[1] * c) || out[0] * out[1] * c > MAX_RESIZE_VALUES) {
    throw new ImageError(
      'too-many-pixels',
      `rescaling ${h}x${w}x${c} from ${fromMpp} to ${toMpp} µm/px (scale ${scale}) would give ` +
        `${out[0]}x${out[1]}x${c}, more than ${MAX_RESIZE_VALUES} values`,
    );
  }
  return out;
}

function checkImage(length: number, h: number, w: number, c: number, what: string): void {
  if (![h, w, c].every((n) => Number.isInteger(n) && n >= 1)) {
    throw new ImageError('bad-argument', `${what} size ${h}x${w}x${c} must be positive integers`);
  }
  if (length !== h * w * c) {
    throw new ImageError(
      'shape-mismatch',
      `${what} of size ${h}x${w}x${c} needs ${h * w * c} values but holds ${length}`,
    );
  }
}

function checkTarget(height: number, width: number, c: number): void {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ImageError('bad-argument', `target size ${height}x${width} must be positive integers`);
  }
  if (height * width * c > MAX_RESIZE_VALUES) {
    throw new ImageError(
      'too-many-pixels',
      `target size ${height}x${width}x${c} exceeds the limit of ${MAX_RESIZE_VALUES} values`,
    );
  }
}

/** Input index for each output index, nearest pixel centre: floor((2o + 1) n / (2m)). */
function nearestIndex(n: number, m: number): Int32Array {
  const out = new Int32Array(m);
  for (let o = 0; o < m; o++) out[o] = Math.min(n - 1, Math.floor(((2 * o + 1) * n) / (2 * m)));
  return out;
}

/** Resampling weights for one axis, n inputs → m outputs (bilinear, or box average when n > 2m). */
function axisWeights(n: number, m: number): AxisWeights {
  const scale = n / m;
  const area = scale > 2;
  const taps = area ? Math.ceil(scale) + 1 : 2;
  const start = new Int32Array(m);
  const weights = new Float64Array(m * taps);
  for (let o = 0; o < m; o++) {
    if (area) {
      const lo = (o * n) / m;
      const hi = ((o + 1) * n) / m;
      const first = Math.floor(lo);
      start[o] = first;
      for (let t = 0; t < taps; t++) {
        const i = first + t;
        if (i >= n) break;
        const covered = Math.min(hi, i + 1) - Math.max(lo, i);
        if (covered > 0) weights[o * taps + t] = covered / scale;
      }
    } else {
      const c = Math.min(n - 1, Math.max(0, (o + 0.5) * scale - 0.5));
      const i0 = Math.min(Math.floor(c), Math.max(0, n - 2));
      const f = c - i0;
      start[o] = i0;
      weights[o * taps] = 1 - f;
      if (n > 1) weights[o * taps + 1] = f;
    }
  }
  return { start, taps, weights, inLength: n };
}

/** Separable resampling of [h, w, c] to [oh, ow, c], doing the cheaper axis order. */
function resample(src: Float32Array, h: number, w: number, c: number, oh: number, ow: number): Float32Array {
  if (oh === h && ow === w) return src.slice();
  const wy = axisWeights(h, oh);
  const wx = axisWeights(w, ow);
  const rowsFirst = h * ow * wx.taps + oh * ow * wy.taps <= oh * w * wy.taps + oh * ow * wx.taps;
  if (rowsFirst) {
    const mid = new Float32Array(h * ow * c);
    alongX(src, h, w, c, wx, mid, ow);
    const out = new Float32Array(oh * ow * c);
    alongY(mid, ow * c, wy, out, oh);
    return out;
  }
  const mid = new Float32Array(oh * w * c);
  alongY(src, w * c, wy, mid, oh);
  const out = new Float32Array(oh * ow * c);
  alongX(mid, oh, w, c, wx, out, ow);
  return out;
}

/** Resamples every row of [h, w, c] along x into out [h, ow, c]. */
function alongX(
  src: Float32Array,
  h: number,
  w: number,
  c: number,
  ax: AxisWeights,
  out: Float32Array,
  ow: number,
): void {
  const { start, taps, weights } = ax;
  if (taps === 2 && w >= 2) {
    // Bilinear: two neighbours, the right one skipped at weight 0 so a NaN there does not leak.
    for (let y = 0; y < h; y++) {
      const rowIn = y * w * c;
      let o = y * ow * c;
      for (let x = 0; x < ow; x++) {
        const p = rowIn + (start[x] as number) * c;
        const w0 = weights[2 * x] as number;
        const w1 = weights[2 * x + 1] as number;
        for (let k = 0; k < c; k++) {
          out[o++] =
            w1 === 0
              ? w0 * (src[p + k] as number)
              : w0 * (src[p + k] as number) + w1 * (src[p + c + k] as number);
        }
      }
    }
    return;
  }
  for (let y = 0; y < h; y++) {
    const rowIn = y * w * c;
    let o = y * ow * c;
    for (let x = 0; x < ow; x++) {
      const s0 = start[x] as number;
      const wBase = x * taps;
      const tapsHere = Math.min(taps, w - s0);
      for (let k = 0; k < c; k++) {
        let acc = 0;
        for (let t = 0; t < tapsHere; t++) {
          const wt = weights[wBase + t] as number;
          if (wt !== 0) acc += wt * (src[rowIn + (s0 + t) * c + k] as number);
        }
        out[o++] = acc;
      }
    }
  }
}

/** Resamples along y: rows of `rowLength` values, h input rows → oh output rows (float64 row sums). */
function alongY(src: Float32Array, rowLength: number, ay: AxisWeights, out: Float32Array, oh: number): void {
  const { start, taps, weights, inLength } = ay;
  if (taps === 2 && inLength >= 2) {
    for (let y = 0; y < oh; y++) {
      const r0 = (start[y] as number) * rowLength;
      const r1 = r0 + rowLength;
      const w0 = weights[2 * y] as number;
      const w1 = weights[2 * y + 1] as number;
      const o = y * rowLength;
      if (w1 === 0) {
        for (let i = 0; i < rowLength; i++) out[o + i] = w0 * (src[r0 + i] as number);
      } else {
        for (let i = 0; i < rowLength; i++) {
          out[o + i] = w0 * (src[r0 + i] as number) + w1 * (src[r1 + i] as number);
        }
      }
    }
    return;
  }
  const acc = new Float64Array(rowLength);
  for (let y = 0; y < oh; y++) {
    const s0 = start[y] as number;
    const tapsHere = Math.min(taps, inLength - s0);
    acc.fill(0);
    for (let t = 0; t < tapsHere; t++) {
      const wt = weights[y * taps + t] as number;
      if (wt === 0) continue;
      const r = (s0 + t) * rowLength;
      for (let i = 0; i < rowLength; i++) acc[i] = (acc[i] as number) + wt * (src[r + i] as number);
    }
    out.set(acc, y * rowLength);
  }
}
