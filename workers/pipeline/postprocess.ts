/**
 * Stage 3 of segmentation: per-tile head maps → a label image at the input's original size.
 * untile (Hann-window blend) each head → deep watershed (seeds from inner distance, mask from the fg
 * probability or the outer distance, flooding on -outer distance), either on the maps resized back to the
 * original size (default) or at the model's scale followed by a nearest-neighbour resize of the labels and a
 * sequential relabel (see `PostprocessSettings` in ./options.ts).
 */
import { boundaryWatershed, foregroundWatershed } from '../image/bioimage-ops.js';
import { relabelSequential } from '../image/labels.js';
import { resizeMap, resizeNearest } from '../image/resize.js';
import { untile, type TileSet, type TileWindow } from '../image/tiling.js';
import type { FloatMap, Labels } from '../image/types.js';
import { deepWatershed, type DeepWatershedOptions } from '../image/watershed.js';
import type { ModelCard } from '../model/model-io.js';
import type { HeadMaps } from '../model/runners.js';
import { bad, type PostprocessSettings } from './options.js';
import { mergedWatershed, resolveLabels, type LabelSettings } from './settings.js';
import type { ImageMeta } from './preprocess.js';

/** Where the tiles lay: a `TileSet` without its pixels (what a postprocess worker receives). */
export type TileGrid = Omit<TileSet, 'tiles'>;

export interface PostprocessOptions {
  /** The model card: its `postprocess` settings override the pipeline defaults. @default - none */
  readonly card?: ModelCard;
  /** Settings over the card's and the pipeline defaults (options.ts). @default - those */
  readonly watershed?: PostprocessSettings;
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

/** The settings postprocess uses: pipeline defaults < card's `postprocess` < `opts.watershed`. */
export function watershedOptions(opts: Pick<PostprocessOptions, 'card' | 'watershed'>): PostprocessSettings {
  return mergedWatershed(opts);
}

/** Model-px deep-watershed options expressed in original px (image px = model px / scale). */
function toOriginalPixels(o: DeepWatershedOptions, scale: number): DeepWatershedOptions {
  const area = (a: number | undefined): number | undefined =>
    a === undefined ? undefined : Math.round(a / (scale * scale));
  const sigma = (s: number | undefined): number | undefined =>
    s === undefined ? undefined : Math.min(64, s / scale);
  const out: Record<string, unknown> = {
    ...o,
    radius: Math.max(1, Math.round((o.radius ?? 10) / scale)),
    maximaSmooth: sigma(o.maximaSmooth),
    interiorSmooth: sigma(o.interiorSmooth),
    smallObjectsThreshold: area(o.smallObjectsThreshold),
    fillHolesThreshold: area(o.fillHolesThreshold),
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as DeepWatershedOptions;
}

/**
 * Turns one image's tile outputs into its label image [originalHeight, originalWidth], ids 1..N. An entry
 * of its own: resolves and checks the settings, then {@link labelsFromMaps}.
 * @throws ImageError 'bad-argument' when `meta` and `grid` disagree on the scaled size, or a setting is bad
 *   (unknown `mask`/`resolution`, deep-watershed option out of range); 'shape-mismatch' when the maps do not
 *   hold count * T * T values.
 */
export function postprocess(
  maps: HeadMaps,
  grid: TileGrid,
  meta: ImageMeta,
  opts: PostprocessOptions = {},
): Labels {
  return labelsFromMaps(maps, grid, meta, resolveLabels(opts));
}

/** {@link postprocess} with the settings already resolved (./settings.ts); checks the grid against `meta`. */
export function labelsFromMaps(
  maps: HeadMaps,
  grid: TileGrid,
  meta: ImageMeta,
  settings: LabelSettings,
): Labels {
  if (grid.height !== meta.scaledHeight || grid.width !== meta.scaledWidth) {
    bad(
      `tile grid is ${grid.height}x${grid.width} but the image meta says the scaled image is ${meta.scaledHeight}x${meta.scaledWidth}`,
    );
  }
  const { window, imported } = settings;
  if (imported) {
    // A bioimage.io import: foreground (+ boundary) probabilities at the original size → labels.
    const full = untileMaps(maps, grid, window);
    const { originalHeight: h, originalWidth: w } = meta;
    const back = (m: FloatMap): FloatMap => (m.height === h && m.width === w ? m : resizeMap(m, h, w));
    return imported.method === 'foreground-watershed'
      ? foregroundWatershed(back(full.fg), imported)
      : boundaryWatershed(back(full.fg), back(full.outer), imported);
  }
  const { mask, resolution, watershed: ws } = settings;
  const full = untileMaps(maps, grid, window);
  const { originalHeight: h, originalWidth: w } = meta;
  const same = full.inner.height === h && full.inner.width === w;
  if (resolution === 'original') {
    const back = (m: FloatMap): FloatMap => (same ? m : resizeMap(m, h, w));
    const input = {
      inner: back(full.inner),
      outer: back(full.outer),
      ...(mask === 'fg' ? { fg: back(full.fg) } : {}),
    };
    return deepWatershed(input, same ? ws : toOriginalPixels(ws, meta.scale));
  }
  const labels = deepWatershed(
    { inner: full.inner, outer: full.outer, ...(mask === 'fg' ? { fg: full.fg } : {}) },
    ws,
  );
  return same ? labels : relabelSequential(resizeNearest(labels, h, w));
}
