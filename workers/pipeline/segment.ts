/**
 * The whole segmentation of one decoded file, composed from the stages (preprocess → predictTiles →
 * postprocess) that the job service's workers also call, so `kiosk segment` and the service give the same
 * labels for the same options.
 *
 * Scale: with `mpp` the image is rescaled by mpp / card.input.mpp and segmented once. Without it (and with
 * `autoscale` on) it is segmented at scale 1, the nucleus diameter is estimated (./scale.ts), and when it is outside
 * 1/1.3..1.3x of the card's `targetDiameterPx` the image is rescaled to match and segmented again (up to
 * `maxPasses` passes in all, re-measuring after each). Labels always come back at the original size.
 */
import { bioimageioSection } from '../bioimageio/card.js';
import type { Image, Labels, RawArray } from '../image/types.js';
import type { ModelCard } from '../model/model-io.js';
import type { ModelRunner } from '../model/runners.js';
import {
  bad,
  checkPositiveInt,
  DEFAULT_MAX_PASSES,
  DEFAULT_OVERLAP,
  DEFAULT_TILE_SIZE,
  MAX_SCALE,
  MIN_SCALE,
} from './options.js';
import { postprocess, untileMaps, watershedOptions, type PostprocessOptions } from './postprocess.js';
import { predictTiles, type PredictOptions } from './predict.js';
import { prepareImage, scaleFromOptions, selectImages, type PreprocessOptions } from './preprocess.js';
import {
  CHEAP_PASS_MIN_MODEL_DIAMETER,
  cheapPassScale,
  fgDiameter,
  rescaleForDiameter,
  rescaleForSmallInstances,
  type RescaleRule,
} from './scale.js';

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

export interface SegmentOptions extends PreprocessOptions, PredictOptions, Omit<PostprocessOptions, 'card'> {
  /** Estimate the scale from a first pass when neither `mpp` nor `scale` is given. @default true */
  readonly autoscale?: boolean;
  /** Most passes when autoscaling (1 = never re-run). @default 3 (DEFAULT_MAX_PASSES) */
  readonly maxPasses?: number;
  /** When a re-run is worth it. @default - see RescaleRule */
  readonly rescaleRule?: RescaleRule;
  /** How autoscale estimates the nucleus size. @default DEFAULT_SIZE_ESTIMATE */
  readonly sizeEstimate?: SizeEstimate;
  /**
   * After a full pass, re-measure from its instances when many are smaller than the model's size (small,
   * dense nuclei) and re-run (within `maxPasses`). @default DEFAULT_REESTIMATE
   */
  readonly reestimate?: boolean;
}

export interface SegmentResult {
  /** Labels [originalHeight, originalWidth], ids 1..N. */
  readonly labels: Labels;
  /** Image px → model px factor of the final pass. */
  readonly scale: number;
  /** Full passes run (2+ when autoscaling re-ran); the cheap estimate pass is not counted here. */
  readonly passes: number;
  /** Cheap size-estimate passes run (0 or 1; see SizeEstimate). */
  readonly estimatePasses?: number;
  /** Nucleus diameter (original px) the cheap pass estimated, when it ran and found one. */
  readonly estimatedDiameter?: number;
}

/** Segments one decoded plane (from {@link selectImages}); `index` names it in messages. */
export async function segmentPlane(
  image: Image,
  index: number,
  runner: ModelRunner,
  card: ModelCard,
  opts: SegmentOptions,
): Promise<SegmentResult> {
  let scale = scaleFromOptions(card, opts);
  const auto = (opts.autoscale ?? true) && opts.mpp === undefined && opts.scale === undefined;
  const maxPasses = auto ? checkPositiveInt('maxPasses', opts.maxPasses ?? DEFAULT_MAX_PASSES) : 1;
  const post: PostprocessOptions = {
    card,
    ...(opts.watershed ? { watershed: opts.watershed } : {}),
    ...(opts.window ? { window: opts.window } : {}),
  };
  let estimatePasses = 0;
  let estimatedDiameter: number | undefined;
  // A bioimage.io import keeps the full estimate (its own tile size and halo, fg semantics of its own).
  const cheap = (opts.sizeEstimate ?? DEFAULT_SIZE_ESTIMATE) === 'cheap' && !bioimageioSection(card);
  if (auto && cheap && maxPasses > 1) {
    const est = await cheapEstimate(image, index, runner, card, opts);
    estimatePasses = 1;
    if (est !== undefined && est.modelDiameter >= CHEAP_PASS_MIN_MODEL_DIAMETER) {
      estimatedDiameter = est.diameter;
      const s = card.input.targetDiameterPx / est.diameter;
      const tol = opts.rescaleRule?.tolerance ?? 1.3;
      // Within tolerance of scale 1: run at 1 (as the full estimate would), else at the estimate's scale.
      scale = s <= tol && s >= 1 / tol ? 1 : Math.min(MAX_SCALE, Math.max(MIN_SCALE, s));
    }
  }
  const reestimate = auto && (opts.reestimate ?? DEFAULT_REESTIMATE);
  let reestimated = false;
  for (let pass = 1; ; pass++) {
    const prepared = prepareImage(image, card, scale, opts, index);
    const [maps] = await predictTiles(runner, [prepared.tiles], opts);
    const { tiles: _pixels, ...grid } = prepared.tiles;
    const labels = postprocess(maps!, grid, prepared.meta, post);
    // Many instances well below the model's size outrank the mask estimate (whose components are clumps
    // when small nuclei touch); after that re-run the pass is final, so the two cannot undo each other.
    let next: number | undefined;
    if (pass < maxPasses && !reestimated) {
      next = reestimate
        ? rescaleForSmallInstances(labels, scale, card.input.targetDiameterPx, opts.rescaleRule)
        : undefined;
      if (next !== undefined) reestimated = true;
      else next = rescaleForDiameter(labels, scale, card.input.targetDiameterPx, opts.rescaleRule);
    }
    if (next === undefined)
      return {
        labels,
        scale,
        passes: pass,
        ...(estimatePasses ? { estimatePasses } : {}),
        ...(estimatedDiameter !== undefined ? { estimatedDiameter } : {}),
      };
    scale = next;
  }
}

/**
 * The cheap size-estimate pass: the image at cheapPassScale, tiles no larger than it needs (rounded up to
 * the model's size multiple), the fg map thresholded at the postprocess's interior threshold.
 */
export async function cheapEstimate(
  image: Image,
  index: number,
  runner: ModelRunner,
  card: ModelCard,
  opts: SegmentOptions,
): Promise<{ diameter: number; components: number; modelDiameter: number; scale: number } | undefined> {
  const s = cheapPassScale(image.height, image.width);
  const m = card.input.sizeMultiple;
  const longSide = Math.max(Math.round(image.height * s), Math.round(image.width * s));
  const full = opts.tileSize ?? DEFAULT_TILE_SIZE;
  const tileSize = Math.min(full, Math.max(m, Math.ceil(longSide / m) * m));
  const overlap = Math.min(opts.overlap ?? DEFAULT_OVERLAP, tileSize >> 1);
  const prepared = prepareImage(image, card, s, { ...opts, tileSize, overlap }, index);
  const [maps] = await predictTiles(runner, [prepared.tiles], opts);
  const { tiles: _pixels, ...grid } = prepared.tiles;
  const { fg } = untileMaps(maps!, grid, opts.window ?? 'hann');
  const threshold = watershedOptions({
    card,
    ...(opts.watershed ? { watershed: opts.watershed } : {}),
  }).interiorThreshold;
  const est = fgDiameter(fg, s, threshold ?? 0.5, opts.rescaleRule?.minObjects ?? 3);
  return est && { ...est, scale: s };
}

/** Segments every image of `raw` (one for a 2-D image, one per plane of a stack), with details. */
export async function segmentImageDetailed(
  raw: RawArray,
  runner: ModelRunner,
  card: ModelCard,
  opts: SegmentOptions = {},
): Promise<SegmentResult[]> {
  scaleFromOptions(card, opts); // validate before any work
  if (opts.sizeEstimate !== undefined && opts.sizeEstimate !== 'full' && opts.sizeEstimate !== 'cheap')
    bad(`'sizeEstimate' must be 'full' or 'cheap'; got ${JSON.stringify(opts.sizeEstimate)}`);
  const images = selectImages(raw, card, opts);
  const results: SegmentResult[] = [];
  for (const [index, image] of images.entries())
    results.push(await segmentPlane(image, index, runner, card, opts));
  return results;
}

/**
 * Segments every image of `raw` and returns their label images [H, W] at the original size.
 * @throws ImageError for bad input or options (see preprocess/predictTiles/postprocess); runner errors pass.
 */
export async function segmentImage(
  raw: RawArray,
  runner: ModelRunner,
  card: ModelCard,
  opts: SegmentOptions = {},
): Promise<Labels[]> {
  return (await segmentImageDetailed(raw, runner, card, opts)).map((r) => r.labels);
}
