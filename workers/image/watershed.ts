/**
 * Marker-controlled watershed (priority flood), like `skimage.segmentation.watershed(surface, markers, mask)`,
 * and DeepCell's deep watershed, which turns a model's inner/outer distance maps into a label image.
 */
import {
  assertConnectivity,
  assertFinite,
  assertInteger,
  assertMask,
  assertNumber,
  assertSameShape,
} from './array-checks.js';
import { gaussianFilter, MAX_GAUSSIAN_SIGMA } from './gaussian-filter.js';
import { connectedComponents, fillHoles, relabelSequential, removeSmallObjects } from './labels.js';
import { peakLocalMax } from './peaks.js';
import { ImageError, type FloatMap, type Labels } from './types.js';

export interface WatershedOptions {
  /** 1: flood to the 4 edge neighbours; 2: also to the 4 corner neighbours. @default 1 (as skimage) */
  readonly connectivity?: 1 | 2;
}

/**
 * Floods `surface` (axes [H, W], finite floats; low values flood first) from the non-zero pixels of
 * `markers` (same shape; each marker keeps its id), only through pixels where `mask` is non-zero (no mask:
 * everywhere). Returns the label image: every masked pixel reachable from a marker gets the id of the
 * marker whose flood reached it first; the rest is 0. Markers outside the mask are dropped.
 *
 * Order, as skimage: pixels leave the queue by increasing surface value; equal values leave first in,
 * first out (markers first, in raster order). A pixel takes its label when it is first reached (pushed),
 * so on a constant surface every pixel goes to the nearest marker in breadth-first steps, ties to the
 * marker queued first. Neighbours are visited in raster order (up, left, right, down; with connectivity 2
 * up-left, up, up-right, left, right, down-left, down, down-right). No markers → all zeros.
 *
 * Speed: surface values are ranked once (radix sort of their float32 bits), then a bucket queue with one
 * FIFO list per distinct value and a two-level bitmap of non-empty buckets: O(pixels) work, no heap.
 *
 * Throws ImageError 'shape-mismatch' (surface vs markers vs mask, message shows both shapes) and
 * 'bad-argument' (non-finite surface value, connectivity not 1 or 2).
 */
export function watershed(
  surface: FloatMap,
  markers: Labels,
  mask?: Uint8Array,
  opts: WatershedOptions = {},
): Labels {
  assertSameShape('surface', surface, 'markers', markers);
  if (mask !== undefined) assertMask('mask', mask, surface, 'surface');
  const connectivity = opts.connectivity ?? 1;
  assertConnectivity(connectivity);
  assertFinite('surface', surface);
  const { height, width } = surface;
  const n = height * width;
  const out = new Uint32Array(n);
  // free[i] = 1: inside the mask and not labelled yet.
  const free = new Uint8Array(n);
  let active = 0;
  for (let i = 0; i < n; i++) {
    if (mask === undefined || mask[i] !== 0) {
      free[i] = 1;
      active++;
    }
  }
  const { rank, buckets } = rankValues(surface.data, free, active);
  const queue = new BucketQueue(buckets, n, rank);
  for (let i = 0; i < n; i++) {
    if (free[i] === 1 && markers.data[i] !== 0) {
      out[i] = markers.data[i]!;
      free[i] = 0;
      queue.push(i);
    }
  }
  const eight = connectivity === 2;
  // Label a free neighbour and queue it (labelled on first reach, as skimage does).
  const visit = (q: number, label: number): void => {
    if (free[q] !== 1) return;
    out[q] = label;
    free[q] = 0;
    queue.push(q);
  };
  for (let p = queue.pop(); p >= 0; p = queue.pop()) {
    const label = out[p]!;
    const y = (p / width) | 0;
    const x = p - y * width;
    const left = x > 0;
    const right = x + 1 < width;
    if (y > 0) {
      if (eight && left) visit(p - width - 1, label);
      visit(p - width, label);
      if (eight && right) visit(p - width + 1, label);
    }
    if (left) visit(p - 1, label);
    if (right) visit(p + 1, label);
    if (y + 1 < height) {
      if (eight && left) visit(p + width - 1, label);
      visit(p + width, label);
      if (eight && right) visit(p + width + 1, label);
    }
  }
  return { data: out, height, width };
}

/**
 * Dense rank (0 = lowest) of the value of every pixel where `use` is 1: an LSD radix sort (3 passes of 11
 * bits, keys carried along with pixel indices) of the float32 bit patterns mapped to unsigned order
 * (-0 counts as +0). Returns the number of distinct values.
 */
function rankValues(
  values: Float32Array,
  use: Uint8Array,
  count: number,
): { rank: Int32Array; buckets: number } {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let keys = new Uint32Array(count);
  let pixels = new Int32Array(count);
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    if (use[i] !== 1) continue;
    const b = bits[i]! === 0x80000000 ? 0 : bits[i]!;
    // Negative floats: flip all bits; positive: flip the sign bit. Unsigned order = float order.
    keys[m] = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    pixels[m++] = i;
  }
  let keys2 = new Uint32Array(count);
  let pixels2 = new Int32Array(count);
  const counts = new Int32Array(2048);
  for (const shift of [0, 11, 22]) {
    counts.fill(0);
    for (let j = 0; j < count; j++) counts[(keys[j]! >>> shift) & 0x7ff]!++;
    // All keys share this digit (common in the top bits): the pass would move nothing.
    if (counts[(keys[0]! >>> shift) & 0x7ff] === count) continue;
    let sum = 0;
    for (let v = 0; v < 2048; v++) {
      const c = counts[v]!;
      counts[v] = sum;
      sum += c;
    }
    for (let j = 0; j < count; j++) {
      const key = keys[j]!;
      const at = counts[(key >>> shift) & 0x7ff]!++;
      keys2[at] = key;
      pixels2[at] = pixels[j]!;
    }
    [keys, keys2] = [keys2, keys];
    [pixels, pixels2] = [pixels2, pixels];
  }
  const rank = new Int32Array(values.length);
  let r = -1;
  let prev = 0;
  for (let j = 0; j < count; j++) {
    if (j === 0 || keys[j] !== prev) {
      r++;
      prev = keys[j]!;
    }
    rank[pixels[j]!] = r;
  }
  return { rank, buckets: r + 1 };
}

/**
 * Min-priority queue of pixels keyed by value rank, FIFO within one rank. Each pixel is pushed at most once,
 * so the FIFO lists are threaded through one `next` array. A two-level bitmap finds the lowest non-empty
 * bucket in a few word operations.
 */
class BucketQueue {
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly next: Int32Array;
  private readonly level0: Uint32Array;
  private readonly level1: Uint32Array;
  private lowest: number;

  constructor(
    buckets: number,
    pixels: number,
    private readonly rank: Int32Array,
  ) {
    this.head = new Int32Array(buckets).fill(-1);
    this.tail = new Int32Array(buckets);
    this.next = new Int32Array(pixels);
    this.level0 = new Uint32Array(Math.ceil(buckets / 32));
    this.level1 = new Uint32Array(Math.ceil(this.level0.length / 32));
    this.lowest = buckets;
  }

  push(p: number): void {
    const b = this.rank[p]!;
    this.next[p] = -1;
    if (this.head[b]! < 0) {
      this.head[b] = p;
      this.level0[b >>> 5]! |= 1 << (b & 31);
      this.level1[b >>> 10]! |= 1 << ((b >>> 5) & 31);
    } else {
      this.next[this.tail[b]!] = p;
    }
    this.tail[b] = p;
    if (b < this.lowest) this.lowest = b;
  }

  /** The oldest pixel of the lowest non-empty bucket, or -1 when empty. */
  pop(): number {
    let b = this.lowest;
    if (b >= this.head.length) return -1;
    if (this.head[b]! < 0) {
      b = this.findFrom(b);
      if (b < 0) {
        this.lowest = this.head.length;
        return -1;
      }
      this.lowest = b;
    }
    const p = this.head[b]!;
    const nx = this.next[p]!;
    this.head[b] = nx;
    if (nx < 0) {
      const w = b >>> 5;
      this.level0[w]! &= ~(1 << (b & 31));
      if (this.level0[w] === 0) this.level1[w >>> 5]! &= ~(1 << (w & 31));
    }
    return p;
  }

  private findFrom(b: number): number {
    let w = b >>> 5;
    let bitsHere = this.level0[w]! & (~0 << (b & 31));
    if (bitsHere !== 0) return (w << 5) | lowestBit(bitsHere);
    // Next non-empty level-0 word, through level 1.
    let u = (w + 1) >>> 5;
    if (u >= this.level1.length) return -1;
    let bits1 = (w + 1) & 31 ? this.level1[u]! & (~0 << ((w + 1) & 31)) : this.level1[u]!;
    while (bits1 === 0) {
      if (++u >= this.level1.length) return -1;
      bits1 = this.level1[u]!;
    }
    w = (u << 5) | lowestBit(bits1);
    bitsHere = this.level0[w]!;
    return (w << 5) | lowestBit(bitsHere);
  }
}

function lowestBit(v: number): number {
  return 31 - Math.clz32(v & -v);
}

/** Options of `deepWatershed`; every one is optional. Names follow DeepCell's `deep_watershed` arguments. */
export interface DeepWatershedOptions {
  /** Seed search radius in px (peakLocalMax `minDistance`), integer >= 1. @default 10 */
  readonly radius?: number;
  /** A seed must have (smoothed) inner distance > this. @default 0.1 */
  readonly maximaThreshold?: number;
  /**
   * A pixel belongs to some object when its (smoothed) interior map is > this; the interior map is `fg`
   * when given, else `outer`.
   * @default 0.01 with `outer` (DeepCell's value), 0.5 with `fg` (a probability)
   */
  readonly interiorThreshold?: number;
  /** Gaussian sigma (px, 0..64) applied to `inner` before seeds are searched; 0 = none. @default 0 */
  readonly maximaSmooth?: number;
  /** Gaussian sigma (px, 0..64) applied to `outer` (and `fg`) before masking and flooding. @default 1 */
  readonly interiorSmooth?: number;
  /** No seed within `radius` px of the image edge. @default false */
  readonly excludeBorder?: boolean;
  /** Objects with fewer pixels than this are removed (set to 0); integer >= 0. @default 0 - none */
  readonly smallObjectsThreshold?: number;
  /** Holes (see `fillHoles`) with fewer pixels than this are filled; integer >= 0. @default 0 - none */
  readonly fillHolesThreshold?: number;
  /** Flood connectivity (see `watershed`). @default 1 */
  readonly connectivity?: 1 | 2;
}

const DEEP_WATERSHED_OPTIONS = new Set([
  'radius',
  'maximaThreshold',
  'interiorThreshold',
  'maximaSmooth',
  'interiorSmooth',
  'excludeBorder',
  'smallObjectsThreshold',
  'fillHolesThreshold',
  'connectivity',
]);

/**
 * DeepCell's deep watershed: turns a nuclear model's output maps (axes [H, W], float32, one per head) into
 * a label image with objects numbered 1..N (raster order of their seeds).
 *
 * 1. seeds: `peakLocalMax` of `inner` (Gaussian `maximaSmooth` first), window radius `radius`, values
 *    > `maximaThreshold`; each seed is one marker (DeepCell: `label(markers)`);
 * 2. mask: interior map (`fg` if given, else `outer`; Gaussian `interiorSmooth`) > `interiorThreshold`;
 * 3. `watershed` of the NEGATED smoothed `outer` from the seeds inside the mask (objects grow down from
 *    their centres, where outer distance is highest, and meet where it is lowest);
 * 4. objects < `smallObjectsThreshold` px removed; holes < `fillHolesThreshold` px filled;
 * 5. `relabelSequential`: ids 1..N.
 * DeepCell's `label_erosion` and `pixel_expansion` are not implemented. A map with no value above the
 * thresholds (e.g. all zeros) gives all-zero labels; a constant `inner` has no seeds, so all zeros too.
 *
 * Throws ImageError 'shape-mismatch' if the maps' shapes differ (message shows both), 'bad-argument' for a
 * non-finite map value or an option out of range or unknown (message names it and the value).
 */
export function deepWatershed(
  maps: { readonly inner: FloatMap; readonly outer: FloatMap; readonly fg?: FloatMap },
  opts: DeepWatershedOptions = {},
): Labels {
  const { inner, outer, fg } = maps;
  assertSameShape('inner', inner, 'outer', outer);
  if (fg !== undefined) assertSameShape('fg', fg, 'outer', outer);
  for (const key of Object.keys(opts)) {
    if (!DEEP_WATERSHED_OPTIONS.has(key)) {
      throw new ImageError(
        'bad-argument',
        `unknown deepWatershed option '${key}'; known: ${[...DEEP_WATERSHED_OPTIONS].join(', ')}`,
      );
    }
  }
  const radius = opts.radius ?? 10;
  const maximaThreshold = opts.maximaThreshold ?? 0.1;
  const interiorThreshold = opts.interiorThreshold ?? (fg ? 0.5 : 0.01);
  const maximaSmooth = opts.maximaSmooth ?? 0;
  const interiorSmooth = opts.interiorSmooth ?? 1;
  const smallObjects = opts.smallObjectsThreshold ?? 0;
  const fillHolesBelow = opts.fillHolesThreshold ?? 0;
  assertInteger('radius', radius, 1);
  assertNumber('maximaThreshold', maximaThreshold);
  assertNumber('interiorThreshold', interiorThreshold);
  for (const [name, sigma] of [
    ['maximaSmooth', maximaSmooth],
    ['interiorSmooth', interiorSmooth],
  ] as const) {
    assertNumber(name, sigma, 0);
    if (sigma > MAX_GAUSSIAN_SIGMA)
      throw new ImageError('bad-argument', `'${name}' must be <= ${MAX_GAUSSIAN_SIGMA} px, got ${sigma}`);
  }
  assertInteger('smallObjectsThreshold', smallObjects, 0);
  assertInteger('fillHolesThreshold', fillHolesBelow, 0);
  if (opts.excludeBorder !== undefined && typeof opts.excludeBorder !== 'boolean') {
    throw new ImageError(
      'bad-argument',
      `'excludeBorder' must be a boolean, got ${String(opts.excludeBorder)}`,
    );
  }
  const connectivity = opts.connectivity ?? 1;
  assertConnectivity(connectivity);
  assertFinite('inner', inner);
  assertFinite('outer', outer);
  if (fg !== undefined) assertFinite('fg', fg);

  const { height, width } = outer;
  const n = height * width;
  const maxima = maximaSmooth > 0 ? gaussianFilter(inner, maximaSmooth) : inner;
  const seeds = peakLocalMax(maxima, {
    minDistance: radius,
    thresholdAbs: maximaThreshold,
    excludeBorder: opts.excludeBorder ?? false,
  });
  const seedMask = new Uint8Array(n);
  for (const i of seeds) seedMask[i] = 1;
  const markers = connectedComponents(seedMask, height, width, 2);

  const outerSmooth = interiorSmooth > 0 ? gaussianFilter(outer, interiorSmooth) : outer;
  const interior =
    fg === undefined ? outerSmooth : interiorSmooth > 0 ? gaussianFilter(fg, interiorSmooth) : fg;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = interior.data[i]! > interiorThreshold ? 1 : 0;
  const surface = new Float32Array(n);
  for (let i = 0; i < n; i++) surface[i] = -outerSmooth.data[i]!;

  let labels = watershed({ data: surface, height, width }, markers, mask, { connectivity });
  if (smallObjects > 1) labels = removeSmallObjects(labels, smallObjects);
  if (fillHolesBelow > 1) labels = fillHoles(labels, fillHolesBelow);
  return relabelSequential(labels);
}
