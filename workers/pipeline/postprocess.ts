/**
 * Stage 3 of segmentation: per-tile head maps → a label image at the input's original size.
 * untile (Hann-window blend) each head → deep watershed (seeds from inner distance, mask from the fg
 * probability, flooding on -outer distance) → nearest-neighbour resize back to the original size →
 * sequential relabel (1..N, since shrinking can drop tiny objects).
 */
import { relabelSequential } from '../image/labels.js';
import { resizeNearest } from '../image/resize.js';
import { untile, type TileSet, type TileWindow } from '../image/tiling.js';
import type { FloatMap, Labels } from '../image/types.js';
import { deepWatershed, type DeepWatershedOptions } from '../image/watershed.js';
import type { HeadMaps } from '../model/runners.js';
import type { ImageMeta } from './preprocess.js';
import type { ModelCard } from '../model/model-io.js';
import { bad, cardWatershedOptions, PIPELINE_WATERSHED_DEFAULTS } from './options.js';

/** Where the tiles lay: a `TileSet` without its pixels (what a postprocess worker receives). */
export type TileGrid = Omit<TileSet, 'tiles'>;

export interface PostprocessOptions {
  /** The model card: its `postprocess` settings override the pipeline defaults. @default - none */
  readonly card?: ModelCard;
  /** Deep-watershed settings, over the card's and the pipeline defaults (options.ts). @default - those */
  readonly watershed?: DeepWatershedOptions;
  /** Tile blending window. @default 'hann' */
  readonly window?: TileWindow;
}

/** Blends the per-tile maps into full maps [H, W] at the scaled (model) size. */
export function untileMaps(
  maps: HeadMaps,
  grid: TileGrid,
  window: TileWindow = 'hann',
): { inner: FloatMap; outer: FloatMap; fg: FloatMap } {
  const set: TileSet = { ...grid, tiles: new Float32Array(0) };
  const one = (data: Float32Array): FloatMap => ({
    data: untile(data, set, 1, { window }),
    height: grid.height,
    width: grid.width,
  });
  return { inner: one(maps.inner), outer: one(maps.outer), fg: one(maps.fg) };
}

/**
 * Turns one image's tile outputs into its label image [originalHeight, originalWidth], ids 1..N.
 * @throws ImageError 'bad-argument' when `meta` and `grid` disagree on the scaled size, or an option is bad;
 *   'shape-mismatch' when the maps do not hold count * T * T values.
 */
export function postprocess(
  maps: HeadMaps,
  grid: TileGrid,
  meta: ImageMeta,
  opts: PostprocessOptions = {},
): Labels {
  if (grid.height !== meta.scaledHeight || grid.width !== meta.scaledWidth) {
    bad(
      `tile grid is ${grid.height}x${grid.width} but the image meta says the scaled image is ${meta.scaledHeight}x${meta.scaledWidth}`,
    );
  }
  const full = untileMaps(maps, grid, opts.window ?? 'hann');
  const labels = deepWatershed(full, watershedOptions(opts));
  if (labels.height === meta.originalHeight && labels.width === meta.originalWidth) return labels;
  return relabelSequential(resizeNearest(labels, meta.originalHeight, meta.originalWidth));
}

/** The deep-watershed settings postprocess uses: pipeline defaults < card's `postprocess` < `opts.watershed`. */
export function watershedOptions(opts: Pick<PostprocessOptions, 'card' | 'watershed'>): DeepWatershedOptions {
  return {
    ...PIPELINE_WATERSHED_DEFAULTS,
    ...(opts.card ? cardWatershedOptions(opts.card) : {}),
    ...opts.watershed,
  };
}
