/**
 * Inference-time scale, Cellpose-style: when the input's µm/px is unknown, segment once, measure the median
 * nucleus diameter, and when it is far from the model's training diameter, rescale by their ratio and segment
 * again. Pure functions over label images.
 */
import type { Labels } from '../image/types.js';
import { bad, checkPositiveNumber, MAX_SCALE, MIN_SCALE } from './options.js';

/**
 * Median equivalent-circle diameter 2 * sqrt(area / π) (px) of the objects of `labels` (ids > 0), or
 * `undefined` when there are none. Ties: the median of an even count is the mean of the middle two.
 */
export function medianDiameter(labels: Labels): number | undefined {
  const areas = new Map<number, number>();
  for (const id of labels.data) if (id !== 0) areas.set(id, (areas.get(id) ?? 0) + 1);
  if (areas.size === 0) return undefined;
  const d = [...areas.values()].map((a) => 2 * Math.sqrt(a / Math.PI)).sort((a, b) => a - b);
  const mid = d.length >> 1;
  return d.length % 2 ? d[mid]! : (d[mid - 1]! + d[mid]!) / 2;
}

export interface RescaleRule {
  /** Re-run only when measured/target diameter is outside [1/tolerance, tolerance]. @default 1.3 */
  readonly tolerance?: number;
  /** Fewer objects than this are too few to trust a size estimate. @default 3 */
  readonly minObjects?: number;
}

/**
 * Given `labels` at the image's original size, segmented at `scale` (image px → model px), returns the scale
 * that brings their median diameter to `targetDiameterPx` model px (target / measured), or `undefined` when
 * no second pass is needed: fewer than `minObjects` objects, or scale * measured already within tolerance of
 * the target. The result is clamped to [1/8, 8].
 * @throws ImageError 'bad-argument' for a non-positive scale, target or tolerance < 1.
 */
export function rescaleForDiameter(
  labels: Labels,
  scale: number,
  targetDiameterPx: number,
  rule: RescaleRule = {},
): number | undefined {
  checkPositiveNumber('scale', scale);
  checkPositiveNumber('targetDiameterPx', targetDiameterPx);
  const tolerance = checkPositiveNumber('tolerance', rule.tolerance ?? 1.3);
  if (tolerance < 1) bad(`'tolerance' must be >= 1; got ${tolerance}`);
  const objects = new Set(labels.data).size - (labels.data.includes(0) ? 1 : 0);
  if (objects < (rule.minObjects ?? 3)) return undefined;
  const measured = medianDiameter(labels);
  if (measured === undefined) return undefined;
  const ratio = targetDiameterPx / (scale * measured);
  if (ratio <= tolerance && ratio >= 1 / tolerance) return undefined;
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, targetDiameterPx / measured));
}
