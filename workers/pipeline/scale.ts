/**
 * Inference-time scale, Cellpose-style: when the input's µm/px is unknown, segment once, measure the nucleus
 * size, and when it is far from the model's training diameter, rescale by their ratio and segment again.
 *
 * Why the size comes from the object MASK and not from the first pass's instances: a network trained at one
 * nucleus size tends to cut nuclei 3x too large into pieces of about its own size, so the instances' median
 * diameter says "the size is right" exactly when it is not (seen on val with nuclei of 40-50 px). The union of
 * the instances (what is foreground) does not depend on how it was cut: each connected component's largest
 * distance to the background is about one nucleus radius, even for a clump of touching nuclei.
 * Pure functions over label images.
 */
import { connectedComponents } from '../image/labels.js';
import type { Labels } from '../image/types.js';
import { checkPositiveNumber, MAX_SCALE, MIN_SCALE } from './options.js';
import { resolveRescale, type RescaleSettings } from './settings.js';

/**
 * Median over the train set's label images of (median over mask components of 2 x max distance to background)
 * divided by (median equivalent diameter of the instances): 0.893 on the 383 images of
 * shared/data/nuclei/train (5th-95th percentile 0.80-1.04; 0.882 on val). Dividing by it turns the mask
 * measure into an equivalent-diameter estimate.
 */
export const MASK_DIAMETER_CALIBRATION = 0.893;

/**
 * Median equivalent-circle diameter 2 * sqrt(area / π) (px) of the objects of `labels` (ids > 0), or
 * `undefined` when there are none. Ties: the median of an even count is the mean of the middle two.
 */
export function medianDiameter(labels: Labels): number | undefined {
  const areas = new Map<number, number>();
  for (const id of labels.data) if (id !== 0) areas.set(id, (areas.get(id) ?? 0) + 1);
  if (areas.size === 0) return undefined;
  return median([...areas.values()].map((a) => 2 * Math.sqrt(a / Math.PI)));
}

function median(values: number[]): number {
  const d = values.sort((a, b) => a - b);
  const mid = d.length >> 1;
  return d.length % 2 ? d[mid]! : (d[mid - 1]! + d[mid]!) / 2;
}

/**
 * Exact Euclidean distance transform of a mask [H, W] (Felzenszwalb & Huttenlocher): for each on pixel the
 * distance between its centre and the nearest off pixel's centre; 0 on off pixels. A mask with no off pixel
 * gives Infinity everywhere (outside the image does not count as background).
 */
export function distanceToBackground(mask: Uint8Array, height: number, width: number): Float64Array {
  const d2 = squaredDistanceToBackground(mask, height, width);
  for (let i = 0; i < d2.length; i++) d2[i] = d2[i]! >= FAR / 2 ? Infinity : Math.sqrt(d2[i]!);
  return d2;
}

/** Stands for "no off pixel" in squared distances (every real one is below (H + W)^2). */
const FAR = 1e20;

/**
 * The squared distances of {@link distanceToBackground} (exact integers), with FAR where the mask has no off
 * pixel at all. Both 1-D passes walk memory in order (this runs once per image on the CPU worker): along the
 * columns the input is binary, so the squared distance to the nearest off pixel of the column comes from two
 * scans over whole rows (down, then up); along the rows, the lower envelope of parabolas on each row.
 */
function squaredDistanceToBackground(mask: Uint8Array, height: number, width: number): Float64Array {
  const n = height * width;
  // Column pass: steps to the nearest off pixel above (down scan), then the nearer of that and below.
  const NONE = 0x3fffffff; // more steps than any image has; stays an int32 after + height
  const steps = new Int32Array(n);
  for (let x = 0; x < width; x++) steps[x] = mask[x] ? NONE : 0;
  for (let y = 1; y < height; y++) {
    const b = y * width;
    for (let i = b; i < b + width; i++) steps[i] = mask[i] ? steps[i - width]! + 1 : 0;
  }
  for (let y = height - 2; y >= 0; y--) {
    const b = y * width;
    for (let i = b; i < b + width; i++) {
      const below = steps[i + width]! + 1;
      if (below < steps[i]!) steps[i] = below;
    }
  }
  const d2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = steps[i]!;
    d2[i] = s >= NONE ? FAR : s * s;
  }
  // Row pass: min over p of (q - p)^2 + d2[p] along each row, in place through one row of scratch.
  const v = new Int32Array(width);
  const z = new Float64Array(width + 1);
  const out = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    const row = d2.subarray(y * width, (y + 1) * width);
    lowerEnvelope(row, width, v, z, out);
    row.set(out);
  }
  return d2;
}

/**
 * One 1-D pass of {@link distanceToBackground}: `out[q]` = min over p of (q - p)^2 + f[p], for q < len, by
 * the lower envelope of the parabolas (`v`, `z`: scratch of len and len + 1).
 */
function lowerEnvelope(
  f: Float64Array,
  len: number,
  v: Int32Array,
  z: Float64Array,
  out: Float64Array,
): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < len; q++) {
    const fq = f[q]! + q * q;
    let s: number;
    for (;;) {
      const p = v[k]!;
      s = (fq - (f[p]! + p * p)) / (2 * q - 2 * p);
      if (s > z[k]!) break;
      k--;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < len; q++) {
    while (z[k + 1]! < q) k++;
    const p = v[k]!;
    out[q] = (q - p) * (q - p) + f[p]!;
  }
}

/**
 * Nucleus diameter (px) estimated from the foreground of `labels` (ids > 0, how they are cut does not
 * matter): the median over 4-connected mask components of at least `minArea` px of 2 x their largest
 * distance to the background, divided by {@link MASK_DIAMETER_CALIBRATION}. `undefined` when no component
 * is large enough or the image has no background at all.
 */
export function maskDiameter(
  labels: Labels,
  minArea = 4,
): { diameter: number; components: number } | undefined {
  const { height, width } = labels;
  const mask = new Uint8Array(labels.data.length);
  let background = false;
  for (let i = 0; i < mask.length; i++) {
    mask[i] = labels.data[i] ? 1 : 0;
    if (!mask[i]) background = true;
  }
  if (!background) return undefined;
  const dist2 = squaredDistanceToBackground(mask, height, width);
  const comps = connectedComponents(mask, height, width, 1);
  // Components are numbered 1..N: per-component tables instead of maps (this runs per image on the CPU worker).
  let count = 0;
  for (let i = 0; i < comps.data.length; i++) if (comps.data[i]! > count) count = comps.data[i]!;
  // squared distances: the largest squared is the square of the largest (sqrt is monotone and exact here)
  const maxDist2 = new Float64Array(count + 1);
  const area = new Float64Array(count + 1);
  for (let i = 0; i < mask.length; i++) {
    const c = comps.data[i]!;
    if (c === 0) continue;
    area[c]!++;
    if (dist2[i]! > maxDist2[c]!) maxDist2[c] = dist2[i]!;
  }
  const sizes: number[] = [];
  for (let c = 1; c <= count; c++)
    if (maxDist2[c]! > 0 && area[c]! >= minArea) sizes.push(2 * Math.sqrt(maxDist2[c]!));
  if (sizes.length === 0) return undefined;
  return { diameter: median(sizes) / MASK_DIAMETER_CALIBRATION, components: sizes.length };
}

export interface RescaleRule {
  /** Re-run only when estimated/target diameter is outside [1/tolerance, tolerance]. @default 1.3 */
  readonly tolerance?: number;
  /** Fewer mask components than this are too few to trust a size estimate. @default 3 */
  readonly minObjects?: number;
}

/**
 * Given `labels` at the image's original size, segmented at `scale` (image px → model px), returns the scale
 * that brings the estimated nucleus diameter ({@link maskDiameter}, original px) to `targetDiameterPx` model
 * px (target / estimate), or `undefined` when no second pass is needed: fewer than `minObjects` mask
 * components, no background, or scale * estimate already within tolerance of the target. The result is
 * clamped to [1/8, 8].
 * @throws ImageError 'bad-argument' for a non-positive scale or target, or a tolerance < 1.
 */
export function rescaleForDiameter(
  labels: Labels,
  scale: number,
  targetDiameterPx: number,
  rule: RescaleRule = {},
): number | undefined {
  checkPositiveNumber('scale', scale);
  checkPositiveNumber('targetDiameterPx', targetDiameterPx);
  return diameterRescale(labels, scale, targetDiameterPx, resolveRescale(rule));
}

/** {@link rescaleForDiameter} with the rule resolved and the scale and target known positive: checks nothing. */
export function diameterRescale(
  labels: Labels,
  scale: number,
  targetDiameterPx: number,
  { tolerance, minObjects }: RescaleSettings,
): number | undefined {
  const estimate = maskDiameter(labels);
  if (estimate === undefined || estimate.components < minObjects) return undefined;
  const ratio = targetDiameterPx / (scale * estimate.diameter);
  if (ratio <= tolerance && ratio >= 1 / tolerance) return undefined;
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, targetDiameterPx / estimate.diameter));
}

/**
 * Network passes for the size estimate (issue 22 #2): instead of a full-resolution pass, the foreground of
 * a pass on the image downsampled by this factor (a quarter of the pixels). Nuclei of 16 px and more keep
 * >= 8 px there, about the smallest the fg head marks reliably.
 */
export const CHEAP_PASS_SCALE = 0.5;
/** The cheap pass never shrinks the image's shorter side below this (px), so tiny inputs stay readable. */
export const CHEAP_PASS_MIN_SIDE = 64;
/**
 * A cheap-pass estimate of fewer than this many model px across is not trusted: nuclei under ~24 original
 * px are 5-10 px at the cheap scale, where the fg head merges neighbours and the mask overstates their size
 * (smoke run, 4 val images x0.5: cheap estimates up to 1.8x the truth). The caller falls back to a full pass
 * at scale 1, so the cheap pass only decides for nuclei large enough to read at half size.
 */
export const CHEAP_PASS_MIN_MODEL_DIAMETER = 12;

/** Scale of the cheap size-estimate pass for an image of `height` x `width`: CHEAP_PASS_SCALE, or larger so its shorter side keeps CHEAP_PASS_MIN_SIDE px; at most 1. */
export function cheapPassScale(height: number, width: number): number {
  const short = Math.min(height, width);
  return Math.min(1, Math.max(CHEAP_PASS_SCALE, CHEAP_PASS_MIN_SIDE / Math.max(1, short), MIN_SCALE));
}

/**
 * Nucleus diameter (original px) from a foreground probability map `fg` [H, W] computed at `scale` (image px
 * → model px): {@link maskDiameter} of fg > `threshold`, divided by the scale. `undefined` as maskDiameter,
 * or with fewer than `minObjects` components.
 */
export function fgDiameter(
  fg: { data: ArrayLike<number>; height: number; width: number },
  scale: number,
  threshold: number,
  minObjects = 3,
): { diameter: number; components: number; modelDiameter: number } | undefined {
  const data = new Uint32Array(fg.height * fg.width);
  for (let i = 0; i < data.length; i++) data[i] = fg.data[i]! > threshold ? 1 : 0;
  const est = maskDiameter({ data, height: fg.height, width: fg.width });
  if (est === undefined || est.components < minObjects) return undefined;
  return { diameter: est.diameter / scale, components: est.components, modelDiameter: est.diameter };
}

/**
 * Issue 19 #2, the re-estimate after a full pass: when the pass at `scale` found at least `minInstances`
 * objects and their median equivalent diameter is below target / tolerance in model px, the nuclei are
 * smaller than the mask estimate said (small, dense nuclei touch, so the mask's components are clumps and
 * their distance-to-background overstates the size). A network cuts nuclei LARGER than its own size into
 * pieces of about its size, never much smaller, so instances well below the target are real small nuclei.
 * Returns the scale that brings them to the target (clamped to [1/8, 8]), else `undefined`.
 */
export function rescaleForSmallInstances(
  labels: Labels,
  scale: number,
  targetDiameterPx: number,
  rule: RescaleRule & { readonly minInstances?: number } = {},
): number | undefined {
  checkPositiveNumber('scale', scale);
  checkPositiveNumber('targetDiameterPx', targetDiameterPx);
  const { tolerance } = resolveRescale(rule);
  return smallInstancesRescale(labels, scale, targetDiameterPx, tolerance, rule.minInstances);
}

/** {@link rescaleForSmallInstances} with a resolved tolerance and a known positive scale and target. */
export function smallInstancesRescale(
  labels: Labels,
  scale: number,
  targetDiameterPx: number,
  tolerance: number,
  minInstances = DEFAULT_MIN_INSTANCES,
): number | undefined {
  const areas = new Map<number, number>();
  for (const id of labels.data) if (id !== 0) areas.set(id, (areas.get(id) ?? 0) + 1);
  if (areas.size < minInstances) return undefined;
  const d = median([...areas.values()].map((a) => 2 * Math.sqrt(a / Math.PI)));
  if (scale * d * tolerance >= targetDiameterPx) return undefined;
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, targetDiameterPx / d));
}

/** Objects a pass must find before {@link rescaleForSmallInstances} trusts their median size. */
export const DEFAULT_MIN_INSTANCES = 20;
