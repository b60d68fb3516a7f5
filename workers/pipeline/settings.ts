/**
 * The pipeline's options, resolved once where they enter (issue 23 #9): `resolveSettings` applies every
 * default (pipeline < model card < caller) and runs every check, so a bad option is refused before any
 * pixel is touched, with a message that names it. The stages below (prepare → predict → postprocess →
 * next scale) take the resulting `PipelineSettings` (or their own part of it) and check nothing again.
 * The stages' public functions that take raw options (`prepareImage`, `predictTiles`, `postprocess`,
 * `rescaleForDiameter`) are entries of their own and resolve their part here too.
 */
import { availableParallelism } from 'node:os';
import { bioimageioSection, type LabelsMethod } from '../bioimageio/card.js';
import type { TileWindow } from '../image/tiling.js';
import type { DeepWatershedOptions } from '../image/watershed.js';
import { deepWatershed } from '../image/watershed.js';
import type { ModelCard } from '../model/model-io.js';
import {
  bad,
  cardPostprocessSettings,
  checkPositiveInt,
  checkPositiveNumber,
  checkScale,
  checkTta,
  DEFAULT_AUTOSCALE,
  DEFAULT_BATCH_SIZE,
  DEFAULT_MAX_PASSES,
  DEFAULT_MIN_OBJECTS,
  DEFAULT_OVERLAP,
  DEFAULT_REESTIMATE,
  DEFAULT_SIZE_ESTIMATE,
  DEFAULT_TOLERANCE,
  DEFAULT_TTA,
  PIPELINE_POSTPROCESS_DEFAULTS,
  type PostprocessSettings,
  type SizeEstimate,
  type Tta,
} from './options.js';
import { FIT_TILE_MIN, inferenceSettings } from './inference-settings.js';
import type { PostprocessOptions } from './postprocess.js';
import type { PredictOptions } from './predict.js';
import type { PreprocessOptions, TilingChoice } from './preprocess.js';
import type { RescaleRule } from './scale.js';
import type { SegmentOptions } from './segment.js';

/**
 * Tiles the model sees: side and minimum overlap in px. The side is a multiple of the card's sizeMultiple,
 * or 'fit': chosen per image at the model's scale (./inference-settings.ts fitTileSize).
 */
export interface TilingSettings {
  readonly tileSize: number | 'fit';
  readonly overlap: number;
}

/** Tiles per model call and test-time augmentation. */
export interface PredictSettings {
  readonly batchSize: number;
  readonly tta: Tta;
}

/** How head maps become labels: the blending window, and deep watershed's settings or a bioimage.io method. */
export interface LabelSettings {
  readonly window: TileWindow;
  /** Deep watershed (the project's models): mask source, where it runs, its options in model px. */
  readonly mask: 'fg' | 'outer';
  readonly resolution: 'original' | 'model';
  readonly watershed: DeepWatershedOptions;
  /** A bioimage.io import's own method, when it is not deep watershed (then the fields above are unused). */
  readonly imported?: Exclude<LabelsMethod, { readonly method: 'deep-watershed' }>;
}

/** When autoscale re-runs a pass (see ./scale.ts), all values given. */
export interface RescaleSettings {
  readonly tolerance: number;
  readonly minObjects: number;
}

/** Everything the stages need, resolved and checked by {@link resolveSettings}. */
export interface PipelineSettings {
  readonly dimensionOrder?: string;
  readonly channels?: readonly number[];
  /** Image px → model px factor of the first pass (from `scale`, else `mpp`, else 1). */
  readonly scale: number;
  /** Estimate the scale from the image (autoscale on and neither `mpp` nor `scale` given). */
  readonly autoscale: boolean;
  /** Full passes at most (1 without autoscale). */
  readonly maxPasses: number;
  /** How autoscale estimates the size ('full' for a bioimage.io import). */
  readonly sizeEstimate: SizeEstimate;
  /** Re-estimate from the instances after a full pass (only with autoscale). */
  readonly reestimate: boolean;
  readonly rescale: RescaleSettings;
  readonly tiling: TilingSettings;
  readonly predict: PredictSettings;
  readonly labels: LabelSettings;
}

/** Rescale factor image px → model px from `scale`, else `mpp` / the card's µm/px, else 1 (checked). */
export function resolveScale(card: ModelCard, opts: Pick<PreprocessOptions, 'mpp' | 'scale'>): number {
  if (opts.scale !== undefined) return checkScale('scale', opts.scale);
  if (opts.mpp === undefined) return 1;
  const mpp = checkPositiveNumber('mpp', opts.mpp);
  const s = mpp / card.input.mpp;
  if (s < 1 / 8 || s > 8) {
    bad(
      `'mpp' ${mpp} µm/px is ${s.toFixed(3)}x the model's ${card.input.mpp} µm/px; the factor must be in [0.125, 8]`,
    );
  }
  return s;
}

/**
 * Tile side and overlap: the caller's, else a bioimage.io import's own, else the machine's choice
 * (inferenceSettings: 'fit', per image). Checked.
 */
export function resolveTiling(card: ModelCard, opts: TilingChoice): TilingSettings {
  // A bioimage.io import: its own default tile and at least twice its output halo as overlap.
  const bio = bioimageioSection(card);
  const given = opts.tileSize ?? bio?.tileSize;
  const m = card.input.sizeMultiple;
  const tileSize =
    given === undefined
      ? inferenceSettings(availableParallelism()).tileSize
      : checkPositiveInt('tileSize', given);
  if (tileSize !== 'fit' && tileSize % m !== 0)
    bad(`'tileSize' must be a multiple of the model's size multiple ${m}; got ${tileSize}`);
  const overlap = Math.max(
    checkPositiveInt('overlap', opts.overlap ?? DEFAULT_OVERLAP, 0),
    2 * (bio?.halo ?? 0),
  );
  const smallest = tileSize === 'fit' ? FIT_TILE_MIN : tileSize;
  if (overlap >= smallest) bad(`'overlap' must be < tileSize ${smallest}; got ${overlap}`);
  return { tileSize, overlap };
}

export function resolvePredict(opts: PredictOptions): PredictSettings {
  return {
    batchSize: checkPositiveInt('batchSize', opts.batchSize ?? DEFAULT_BATCH_SIZE),
    tta: checkTta(opts.tta ?? DEFAULT_TTA),
  };
}

/** The watershed settings: pipeline defaults < card's `postprocess` < `opts.watershed` (not checked). */
export function mergedWatershed(opts: Pick<PostprocessOptions, 'card' | 'watershed'>): PostprocessSettings {
  return {
    ...PIPELINE_POSTPROCESS_DEFAULTS,
    ...(opts.card ? cardPostprocessSettings(opts.card) : {}),
    ...opts.watershed,
  };
}

/**
 * The labelling settings, checked: the window, `mask` and `resolution`, and deep watershed's own options
 * (by deep watershed's own checks, run once on a 1x1 map so its messages name the option).
 */
export function resolveLabels(opts: PostprocessOptions): LabelSettings {
  const window = opts.window ?? 'hann';
  if (window !== 'hann' && window !== 'triangle' && window !== 'none')
    bad(`'window' must be 'hann', 'triangle' or 'none'; got ${JSON.stringify(window)}`);
  const method = opts.card ? bioimageioSection(opts.card)?.labels : undefined;
  const { mask, resolution, ...watershed } = mergedWatershed(opts);
  if (method && method.method !== 'deep-watershed')
    return { window, mask: 'fg', resolution: 'original', watershed, imported: method };
  if (mask !== 'fg' && mask !== 'outer')
    bad(`postprocess 'mask' must be 'fg' or 'outer'; got ${JSON.stringify(mask)}`);
  if (resolution !== 'original' && resolution !== 'model')
    bad(`postprocess 'resolution' must be 'original' or 'model'; got ${JSON.stringify(resolution)}`);
  const one = { data: new Float32Array(1), height: 1, width: 1 };
  deepWatershed({ inner: one, outer: one, ...(mask === 'fg' ? { fg: one } : {}) }, watershed);
  return { window, mask, resolution, watershed };
}

export function resolveRescale(rule: RescaleRule = {}): RescaleSettings {
  const tolerance = checkPositiveNumber('tolerance', rule.tolerance ?? DEFAULT_TOLERANCE);
  if (tolerance < 1) bad(`'tolerance' must be >= 1; got ${tolerance}`);
  const minObjects = checkPositiveInt('minObjects', rule.minObjects ?? DEFAULT_MIN_OBJECTS, 0);
  return { tolerance, minObjects };
}

/**
 * Every option of a segmentation, with its default applied and checked, for `card`.
 * @throws ImageError 'bad-argument' naming the option, the allowed values and the value received.
 */
export function resolveSettings(card: ModelCard, opts: SegmentOptions = {}): PipelineSettings {
  const scale = resolveScale(card, opts);
  const autoscale =
    (opts.autoscale ?? DEFAULT_AUTOSCALE) && opts.mpp === undefined && opts.scale === undefined;
  const maxPasses =
    opts.maxPasses === undefined && !autoscale
      ? 1
      : checkPositiveInt('maxPasses', opts.maxPasses ?? DEFAULT_MAX_PASSES);
  const sizeEstimate = opts.sizeEstimate ?? DEFAULT_SIZE_ESTIMATE;
  if (sizeEstimate !== 'full' && sizeEstimate !== 'cheap')
    bad(`'sizeEstimate' must be 'full' or 'cheap'; got ${JSON.stringify(sizeEstimate)}`);
  if (autoscale) checkPositiveNumber('targetDiameterPx', card.input.targetDiameterPx);
  return {
    ...(opts.dimensionOrder !== undefined ? { dimensionOrder: opts.dimensionOrder } : {}),
    ...(opts.channels !== undefined ? { channels: opts.channels } : {}),
    scale,
    autoscale,
    maxPasses: autoscale ? maxPasses : 1,
    // A bioimage.io import keeps the full estimate (its own tile size and halo, fg semantics of its own).
    sizeEstimate: bioimageioSection(card) ? 'full' : sizeEstimate,
    reestimate: autoscale && (opts.reestimate ?? DEFAULT_REESTIMATE),
    rescale: resolveRescale(opts.rescaleRule),
    tiling: resolveTiling(card, opts),
    predict: resolvePredict(opts),
    labels: resolveLabels({
      card,
      ...(opts.watershed ? { watershed: opts.watershed } : {}),
      ...(opts.window ? { window: opts.window } : {}),
    }),
  };
}

/** The same settings at a fixed scale, one pass (a volume's planes after the scale was measured). */
export function atFixedScale(settings: PipelineSettings, scale: number): PipelineSettings {
  return { ...settings, scale, autoscale: false, maxPasses: 1, reestimate: false };
}
