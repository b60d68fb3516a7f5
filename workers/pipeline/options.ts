/**
 * The pipeline's defaults and checks. Every check throws `ImageError` with a message that names the option,
 * the allowed range and the value received. Only ./settings.ts (where options enter) runs the checks.
 */
import { ImageError } from '../image/types.js';
import type { DeepWatershedOptions } from '../image/watershed.js';
import type { ModelCard } from '../model/model-io.js';

/**
 * The largest tile of the cheap size-estimate pass (px). The full passes' tile is chosen per image unless
 * given (./inference-settings.ts fitTileSize; 256 before issue 22 #3).
 */
export const DEFAULT_TILE_SIZE = 256;
/** Minimum overlap (px) between neighbouring tiles, blended with a Hann window. */
export const DEFAULT_OVERLAP = 32;
/** Tiles per model call. */
export const DEFAULT_BATCH_SIZE = 4;
/** Test-time augmentation: how many flips/rotations of each tile are predicted and averaged (1 = off). */
export type Tta = 1 | 4 | 8;
export const DEFAULT_TTA: Tta = 1;
/**
 * Most segmentation passes when autoscaling. Three, because nuclei 5-6x the model's size are
 * underestimated by the first pass (the fg head is unsure on them); the second pass, at a closer scale,
 * measures them well and the third runs at the right scale (val: F1@0.5 0.22 → 0.92 on such an image).
 */
export const DEFAULT_MAX_PASSES = 3;
/**
 * How autoscale estimates the nucleus size (issue 22 #2):
 * - 'full': segment at scale 1 and measure the labels' mask (the first of up to `maxPasses` full passes);
 * - 'cheap': one network pass on the image downsampled by CHEAP_PASS_SCALE (a quarter of the pixels,
 *   tiles no larger than that image), the size read off its fg map (no watershed), then the full pass at
 *   the scale that estimate gives. A cheap estimate under CHEAP_PASS_MIN_MODEL_DIAMETER model px falls back
 *   to 'full' from scale 1.
 */
export type SizeEstimate = 'full' | 'cheap';
/**
 * 'full' stays the default: measured with `npm run bench size-estimate` (models/nuclear/1, onnxruntime-node,
 * 2 threads, 2026-12-07) the cheap estimate is worse (median |error| on val 18.9 % vs 5.8 %, within 1.3x for
 * 52/68 vs 64/68 images; x0.5 val 63 % vs 16 %; x2 val 13.6 % vs 12.7 %), and through the pipeline (with
 * the re-estimate) val F1@0.5 0.8785 / DSB 0.5977 vs 0.8809 / 0.6005, 1.31 full + 1 cheap passes per image
 * vs 1.56 full.
 */
export const DEFAULT_SIZE_ESTIMATE: SizeEstimate = 'full';
/**
 * Re-estimate from the instances after a full pass (issue 19 #2, see rescaleForSmallInstances). Off by
 * default: same bench, val F1@0.5 0.8801 / DSB 0.6003 with it vs 0.8809 / 0.6005 without; on val images
 * x0.5 tiled 2x2 (small, dense nuclei) F1 0.727 vs 0.732 and 0.873 vs 0.871 — the mask estimate already
 * rescales those; it helps where small nuclei merge into clumps (size-estimate.test.ts).
 */
export const DEFAULT_REESTIMATE = false;
/** Autoscale is on unless the caller turns it off (or gives `mpp` or `scale`). */
export const DEFAULT_AUTOSCALE = true;
/** When autoscale re-runs: estimate/target outside [1/1.3, 1.3], from at least 3 mask components. */
export const DEFAULT_TOLERANCE = 1.3;
export const DEFAULT_MIN_OBJECTS = 3;
/** Rescale factors the pipeline accepts (image px → model px). */
export const MIN_SCALE = 1 / 8;
export const MAX_SCALE = 8;

/**
 * How postprocess turns maps into labels, beyond deep watershed's own options:
 * - `mask`: the object mask comes from the fg head ('fg', threshold `interiorThreshold` on P(fg)) or from
 *   the outer distance ('outer', DeepCell's way);
 * - `resolution`: where the watershed runs. 'original': the blended maps are resized back to the image's
 *   original size (bilinear) and the watershed runs there with `radius` and the smoothing sigmas divided by
 *   the scale and the size thresholds by its square (they are given in model px), so boundaries are as
 *   fine as the input. 'model': the watershed runs at the model's scale and the labels are resized back
 *   by nearest neighbour.
 */
export interface PostprocessSettings extends DeepWatershedOptions {
  readonly mask?: 'fg' | 'outer';
  readonly resolution?: 'original' | 'model';
}

/**
 * Settings used when neither the card's `postprocess` nor the caller sets them (radius, sigmas and size
 * thresholds in model px, i.e. for nuclei of about the card's targetDiameterPx).
 * Chosen with bench/watershed-tuning.bench.ts on the 68 val images (autoscale on) with an epoch-4 checkpoint
 * of nuclear/1 (targetDiameterPx 14): from the first defaults (radius 4, maxima 0.1, interior 0.5, smoothing
 * 0/1, no size filter; F1@0.5 0.828, DSB 0.385 mean per image) to these: F1@0.5 0.852, DSB 0.549.
 * Re-run the bench for a new model and record its choice in the card's `postprocess`.
 */
export const PIPELINE_POSTPROCESS_DEFAULTS: PostprocessSettings = {
  mask: 'fg',
  resolution: 'original',
  radius: 6,
  maximaThreshold: 0.3,
  interiorThreshold: 0.6,
  maximaSmooth: 0,
  interiorSmooth: 2,
  smallObjectsThreshold: 40,
  fillHolesThreshold: 0,
};

const SETTING_KEYS = new Set<string>([
  ...Object.keys(PIPELINE_POSTPROCESS_DEFAULTS),
  'excludeBorder',
  'connectivity',
]);

export function bad(message: string): never {
  throw new ImageError('bad-argument', message);
}

export function checkPositiveInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    bad(`'${name}' must be an integer >= ${min}; got ${String(v)}`);
  return v;
}

export function checkTta(v: unknown): Tta {
  if (v !== 1 && v !== 4 && v !== 8)
    bad(`'tta' must be 1 (off), 4 (flips) or 8 (flips and rotations); got ${String(v)}`);
  return v;
}

export function checkPositiveNumber(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    bad(`'${name}' must be a positive finite number; got ${String(v)}`);
  return v;
}

export function checkScale(name: string, v: unknown): number {
  const s = checkPositiveNumber(name, v);
  if (s < MIN_SCALE || s > MAX_SCALE) bad(`'${name}' must be in [${MIN_SCALE}, ${MAX_SCALE}]; got ${s}`);
  return s;
}

/**
 * The card's postprocess settings: the known keys of `PostprocessSettings` (H5's `useFg: boolean` is read
 * as `mask`); the `method` tag and any other informational keys are ignored.
 */
export function cardPostprocessSettings(card: ModelCard): PostprocessSettings {
  const pp = card.postprocess as Record<string, unknown> | undefined;
  if (!pp) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(pp)) if (SETTING_KEYS.has(k)) out[k] = v;
  if (typeof pp['useFg'] === 'boolean' && out['mask'] === undefined)
    out['mask'] = pp['useFg'] ? 'fg' : 'outer';
  return out as PostprocessSettings;
}
