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
import { checkPositiveInt, DEFAULT_MAX_PASSES } from './options.js';
import { postprocess, type PostprocessOptions } from './postprocess.js';
import { predictTiles, type PredictOptions } from './predict.js';
import { prepareImage, scaleFromOptions, selectImages, type PreprocessOptions } from './preprocess.js';
import { rescaleForDiameter, type RescaleRule } from './scale.js';

export interface SegmentOptions extends PreprocessOptions, PredictOptions, Omit<PostprocessOptions, 'card'> {
  /** Estimate the scale from a first pass when neither `mpp` nor `scale` is given. @default true */
  readonly autoscale?: boolean;
  /** Most passes when autoscaling (1 = never re-run). @default 3 (DEFAULT_MAX_PASSES) */
  readonly maxPasses?: number;
  /** When a re-run is worth it. @default - see RescaleRule */
  readonly rescaleRule?: RescaleRule;
}

export interface SegmentResult {
  /** Labels [originalHeight, originalWidth], ids 1..N. */
  readonly labels: Labels;
  /** Image px → model px factor of the final pass. */
  readonly scale: number;
  /** Passes run (2+ when autoscaling re-ran). */
  readonly passes: number;
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
  for (let pass = 1; ; pass++) {
    const prepared = prepareImage(image, card, scale, opts, index);
    const [maps] = await predictTiles(runner, [prepared.tiles], opts);
    const { tiles: _pixels, ...grid } = prepared.tiles;
    const labels = postprocess(maps!, grid, prepared.meta, post);
    const next =
      pass < maxPasses
        ? rescaleForDiameter(labels, scale, card.input.targetDiameterPx, opts.rescaleRule)
        : undefined;
    if (next === undefined) return { labels, scale, passes: pass };
    scale = next;
  }
}

/** Segments every image of `raw` (one for a 2-D image, one per plane of a stack), with details. */
export async function segmentImageDetailed(
  raw: RawArray,
  runner: ModelRunner,
  card: ModelCard,
  opts: SegmentOptions = {},
): Promise<SegmentResult[]> {
  scaleFromOptions(card, opts); // validate before any work
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
