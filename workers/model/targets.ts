/**
 * Training targets of the nuclear network, computed from an instance label image (axes [H, W], 0 =
 * background, every other value one object; ids need not be contiguous).
 *
 * - Outer distance (DeepCell `outer_distance_transform_2d`, normalize=True): per object, the Euclidean
 *   distance of each pixel to the nearest pixel NOT of that object (background, another object, or outside
 *   the image), divided by the object's maximum, so each object rises from ~1/max at its rim to exactly 1
 *   at its deepest point. Background = 0.
 * - Inner distance (DeepCell `inner_distance_transform_2d`): per object, with the distance-weighted centroid
 *   c = Σ d(p)·p / Σ d(p) (d = the unnormalized outer distance above, as `regionprops(...).weighted_centroid`
 *   with the EDT as intensity), each pixel gets 1 / (1 + beta · alpha · |p - c|²) (squared distance, no
 *   root, exactly as DeepCell). `alpha = 'auto'` uses 1 / sqrt(area) per object (DeepCell's 'auto').
 *   Values in (0, 1], 1 only at the centroid pixel if it is a pixel centre. Background = 0.
 * - Foreground: 1 where label > 0, else 0.
 * Touching objects are separated because each object's distance counts the neighbour as "not itself".
 * An empty label image gives all-zero targets. Pure function; inputs are not modified.
 */
import type { FloatMap, Labels } from '../image/types.js';
import { ImageError } from '../image/types.js';

export interface TargetOptions {
  /** Inner-distance falloff: a number > 0 or 'auto' (1/sqrt(area) per object). @default 'auto' */
  readonly alpha?: number | 'auto';
  /** Inner-distance scale, > 0. @default 1 */
  readonly beta?: number;
}

export interface Targets {
  readonly inner: FloatMap;
  readonly outer: FloatMap;
  /** 1 = foreground, 0 = background, axes [H, W]. */
  readonly fg: Uint8Array;
}

const INF = 1e20;

/** 1-D squared distance transform (Felzenszwalb & Huttenlocher), f → d in place via scratch arrays. */
function dt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    let s: number;
    for (;;) {
      const vk = v[k]!;
      s = (f[q]! + q * q - (f[vk]! + vk * vk)) / (2 * q - 2 * vk);
      if (s <= z[k]!)
        k--; // never below 0: z[0] = -Infinity and s is finite
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1]! < q) k++;
    const vk = v[k]!;
    d[q] = (q - vk) * (q - vk) + f[vk]!;
  }
}

/**
 * Exact squared Euclidean distance to the nearest zero of `mask` ([h, w], 1 = inside), where everything
 * outside the array counts as zero. Returns squared distances (0 outside the mask).
 */
export function squaredDistanceToOutside(mask: Uint8Array, h: number, w: number): Float64Array {
  // Pad by one pixel of zeros so "outside the array" is a zero at distance 1 from the edge.
  const H = h + 2;
  const W = w + 2;
  const g = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = y > 0 && y <= h && x > 0 && x <= w && mask[(y - 1) * w + (x - 1)] === 1;
      g[y * W + x] = inside ? INF : 0;
    }
  }
  const n = Math.max(H, W);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < W; x++) {
    for (let y = 0; y < H; y++) f[y] = g[y * W + x]!;
    dt1d(f, H, d, v, z);
    for (let y = 0; y < H; y++) g[y * W + x] = d[y]!;
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) f[x] = g[y * W + x]!;
    dt1d(f, W, d, v, z);
    for (let x = 0; x < W; x++) g[y * W + x] = d[x]!;
  }
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = g[(y + 1) * W + (x + 1)]!;
  return out;
}

interface Box {
  y0: number;
  y1: number;
  x0: number;
  x1: number;
  area: number;
}

function boundingBoxes(labels: Labels): Map<number, Box> {
  const boxes = new Map<number, Box>();
  const { data, width } = labels;
  for (let i = 0; i < data.length; i++) {
    const id = data[i]!;
    if (id === 0) continue;
    const y = Math.floor(i / width);
    const x = i - y * width;
    const b = boxes.get(id);
    if (!b) boxes.set(id, { y0: y, y1: y, x0: x, x1: x, area: 1 });
    else {
      if (y < b.y0) b.y0 = y;
      if (y > b.y1) b.y1 = y;
      if (x < b.x0) b.x0 = x;
      if (x > b.x1) b.x1 = x;
      b.area++;
    }
  }
  return boxes;
}

/**
 * Computes inner distance, outer distance and foreground for `labels` (see the module doc).
 * @throws ImageError 'shape-mismatch' if data length ≠ H·W, 'bad-argument' for alpha/beta ≤ 0 or not finite.
 */
export function computeTargets(labels: Labels, opts: TargetOptions = {}): Targets {
  const { height: h, width: w, data } = labels;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0) || data.length !== h * w) {
    throw new ImageError(
      'shape-mismatch',
      `labels are ${String(h)}x${String(w)} but hold ${data.length} values; expected H*W`,
    );
  }
  const alpha = opts.alpha ?? 'auto';
  const beta = opts.beta ?? 1;
  if (alpha !== 'auto' && !(Number.isFinite(alpha) && alpha > 0)) {
    throw new ImageError('bad-argument', `'alpha' must be 'auto' or a number > 0; got ${String(alpha)}`);
  }
  if (!(Number.isFinite(beta) && beta > 0)) {
    throw new ImageError('bad-argument', `'beta' must be a number > 0; got ${String(beta)}`);
  }
  const inner = new Float32Array(h * w);
  const outer = new Float32Array(h * w);
  const fg = new Uint8Array(h * w);
  for (let i = 0; i < data.length; i++) fg[i] = data[i] === 0 ? 0 : 1;

  for (const [id, b] of boundingBoxes(labels)) {
    const bh = b.y1 - b.y0 + 1;
    const bw = b.x1 - b.x0 + 1;
    const mask = new Uint8Array(bh * bw);
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++) mask[y * bw + x] = data[(y + b.y0) * w + (x + b.x0)] === id ? 1 : 0;
    }
    // The box's own rim is one pixel inside the padded zero ring, so distances are exact: any pixel not
    // of this object nearer than the ring lies inside the box.
    const sq = squaredDistanceToOutside(mask, bh, bw);
    let maxD = 0;
    let sumD = 0;
    let cy = 0;
    let cx = 0;
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++) {
        if (mask[y * bw + x] !== 1) continue;
        const d = Math.sqrt(sq[y * bw + x]!);
        if (d > maxD) maxD = d;
        sumD += d;
        cy += d * y;
        cx += d * x;
      }
    }
    cy /= sumD;
    cx /= sumD;
    const a = alpha === 'auto' ? 1 / Math.sqrt(b.area) : alpha;
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++) {
        if (mask[y * bw + x] !== 1) continue;
        const o = (y + b.y0) * w + (x + b.x0);
        outer[o] = Math.sqrt(sq[y * bw + x]!) / maxD;
        const r2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
        inner[o] = 1 / (1 + beta * a * r2);
      }
    }
  }
  return { inner: { data: inner, height: h, width: w }, outer: { data: outer, height: h, width: w }, fg };
}
