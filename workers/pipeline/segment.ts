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
import type { Image, Labels, RawArray } from '../image/types.js';
import type { ModelCard } from '../model/model-io.js';
import type { ModelRunner } from '../model/runners.js';
import { DEFAULT_TILE_SIZE, MAX_SCALE, MIN_SCALE, type SizeEstimate } from './options.js';
import { labelsFromMaps, untileMaps, type PostprocessOptions } from './postprocess.js';
import { predictBatches, type PredictOptions } from './predict.js';
import { prepareTiles, selectImages, type PreprocessOptions } from './preprocess.js';
import {
  CHEAP_PASS_MIN_MODEL_DIAMETER,
  cheapPassScale,
  diameterRescale,
  fgDiameter,
  smallInstancesRescale,
  type RescaleRule,
} from './scale.js';
import { resolveSettings, type PipelineSettings } from './settings.js';

export { DEFAULT_REESTIMATE, DEFAULT_SIZE_ESTIMATE, type SizeEstimate } from './options.js';

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

/**
 * Segments one decoded plane (from {@link selectImages}) with settings from {@link resolveSettings};
 * `index` names it in messages. Checks no option: they were checked where they entered.
 */
export async function segmentPlane(
  image: Image,
  index: number,
  runner: ModelRunner,
  card: ModelCard,
  settings: PipelineSettings,
): Promise<SegmentResult> {
  let scale = settings.scale;
  const { autoscale: auto, maxPasses, rescale } = settings;
  const target = card.input.targetDiameterPx;
  let estimatePasses = 0;
  let estimatedDiameter: number | undefined;
  if (auto && settings.sizeEstimate === 'cheap' && maxPasses > 1) {
    const est = await cheapEstimateResolved(image, index, runner, card, settings);
    estimatePasses = 1;
    if (est !== undefined && est.modelDiameter >= CHEAP_PASS_MIN_MODEL_DIAMETER) {
      estimatedDiameter = est.diameter;
      const s = target / est.diameter;
      const tol = rescale.tolerance;
      // Within tolerance of scale 1: run at 1 (as the full estimate would), else at the estimate's scale.
      scale = s <= tol && s >= 1 / tol ? 1 : Math.min(MAX_SCALE, Math.max(MIN_SCALE, s));
    }
  }
  let reestimated = false;
  for (let pass = 1; ; pass++) {
    const prepared = prepareTiles(image, card, scale, settings.tiling, index);
    const [maps] = await predictBatches(runner, [prepared.tiles], settings.predict);
    const { tiles: _pixels, ...grid } = prepared.tiles;
    const labels = labelsFromMaps(maps!, grid, prepared.meta, settings.labels);
    // Many instances well below the model's size outrank the mask estimate (whose components are clumps
    // when small nuclei touch); after that re-run the pass is final, so the two cannot undo each other.
    let next: number | undefined;
    if (pass < maxPasses && !reestimated) {
      next = settings.reestimate
        ? smallInstancesRescale(labels, scale, target, rescale.tolerance)
        : undefined;
      if (next !== undefined) reestimated = true;
      else next = diameterRescale(labels, scale, target, rescale);
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

type CheapEstimate = { diameter: number; components: number; modelDiameter: number; scale: number };

/**
 * The cheap size-estimate pass: the image at cheapPassScale, tiles no larger than it needs (rounded up to
 * the model's size multiple), the fg map thresholded at the postprocess's interior threshold. An entry of
 * its own (the size-estimate bench calls it): resolves `opts` first.
 */
export async function cheapEstimate(
  image: Image,
  index: number,
  runner: ModelRunner,
  card: ModelCard,
  opts: SegmentOptions,
): Promise<CheapEstimate | undefined> {
  return cheapEstimateResolved(image, index, runner, card, resolveSettings(card, opts));
}

async function cheapEstimateResolved(
  image: Image,
  index: number,
  runner: ModelRunner,
  card: ModelCard,
  settings: PipelineSettings,
): Promise<CheapEstimate | undefined> {
  const s = cheapPassScale(image.height, image.width);
  const m = card.input.sizeMultiple;
  const longSide = Math.max(Math.round(image.height * s), Math.round(image.width * s));
  const given = settings.tiling.tileSize;
  const full = given === 'fit' ? DEFAULT_TILE_SIZE : given;
  const tileSize = Math.min(full, Math.max(m, Math.ceil(longSide / m) * m));
  const overlap = Math.min(settings.tiling.overlap, tileSize >> 1);
  const prepared = prepareTiles(image, card, s, { tileSize, overlap }, index);
  const [maps] = await predictBatches(runner, [prepared.tiles], settings.predict);
  const { tiles: _pixels, ...grid } = prepared.tiles;
  const { fg } = untileMaps(maps!, grid, settings.labels.window);
  const threshold = settings.labels.watershed.interiorThreshold;
  const est = fgDiameter(fg, s, threshold ?? 0.5, settings.rescale.minObjects);
  return est && { ...est, scale: s };
}

/**
 * Segments every image of `raw` (one for a 2-D image, one per plane of a stack), with details. The entry:
 * `opts` is resolved and checked here, once (./settings.ts), and the stages get the resolved settings.
 */
export async function segmentImageDetailed(
  raw: RawArray,
  runner: ModelRunner,
  card: ModelCard,
  opts: SegmentOptions = {},
): Promise<SegmentResult[]> {
  const settings = resolveSettings(card, opts); // every option checked once, before any work
  const images = selectImages(raw, card, settings);
  const results: SegmentResult[] = [];
  for (const [index, image] of images.entries())
    results.push(await segmentPlane(image, index, runner, card, settings));
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
