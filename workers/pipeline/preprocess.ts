/**
 * Stage 1 of segmentation: a decoded array → model-ready tiles, one tile set per image of the array.
 * toImages (channel selection, axis order) → percentile normalization as the model card says → rescale to
 * the model's scale (bilinear) → tiles [N, T, T, C] (reflect-padded at edges, see ../image/tiling.ts).
 * Normalizing first matches how the training data was prepared (workers/model/dataset.ts).
 */
import { applyBioimageOps } from '../image/bioimage-ops.js';
import { toImages } from '../image/channels.js';
import { percentileNormalize } from '../image/normalize.js';
import { resizeBilinear } from '../image/resize.js';
import { tileImage, type TileSet } from '../image/tiling.js';
import { ImageError, type Image, type RawArray } from '../image/types.js';
import type { ModelCard } from '../model/model-io.js';
import { bioimageioSection } from '../bioimageio/card.js';
import { checkScale } from './options.js';
import { fitTileSize } from './inference-settings.js';
import { resolveScale, resolveTiling, type TilingSettings } from './settings.js';

export interface TilingChoice {
  /**
   * Tile side in px, a multiple of the card's `input.sizeMultiple`. @default - per image, the side in
   * 256..512 that covers it with the fewest tile pixels (./inference-settings.ts fitTileSize)
   */
  readonly tileSize?: number;
  /** Minimum overlap of neighbouring tiles in px, in [0, tileSize). @default 32 */
  readonly overlap?: number;
}

export interface PreprocessOptions extends TilingChoice {
  /** Axis names of the data (DeepCell `dimensionOrder`, e.g. 'XY', 'CXY'). @default - the decoder's axes */
  readonly dimensionOrder?: string;
  /**
   * Channel indices to feed the model; their count must equal the card's `input.channels`.
   * @default - every channel when the image has as many as the model takes, else channel 0 for a
   *   1-channel model (the Kiosk's default)
   */
  readonly channels?: readonly number[];
  /**
   * µm per pixel of the input. With it, the image is rescaled by `mpp / card.input.mpp` (no size estimate).
   * @default - unknown: scale 1 (the caller may estimate the scale, see ./scale.ts)
   */
  readonly mpp?: number;
  /** Explicit rescale factor image px → model px (overrides `mpp`), in [1/8, 8]. @default - from `mpp`, else 1 */
  readonly scale?: number;
}

/** Where a prepared image came from and how it was resized: what postprocess needs to go back. */
export interface ImageMeta {
  /** Position of this image in the array's batch (stack) order. */
  readonly index: number;
  readonly originalHeight: number;
  readonly originalWidth: number;
  /** Image px → model px factor used. */
  readonly scale: number;
  readonly scaledHeight: number;
  readonly scaledWidth: number;
}

export interface PreparedImage {
  readonly tiles: TileSet;
  readonly meta: ImageMeta;
}

/** The images of `raw` (after channel selection), in float, not yet rescaled or normalized. */
export function selectImages(
  raw: RawArray,
  card: ModelCard,
  opts: Pick<PreprocessOptions, 'dimensionOrder' | 'channels'> = {},
): Image[] {
  const want = card.input.channels;
  const order = opts.dimensionOrder === undefined ? {} : { dimensionOrder: opts.dimensionOrder };
  let images = toImages(raw, opts.channels === undefined ? order : { ...order, channels: opts.channels });
  const have = images[0]?.channels ?? 0;
  if (opts.channels === undefined && have !== want && want === 1)
    images = toImages(raw, { ...order, channels: [0] });
  const got = images[0]?.channels ?? 0;
  if (got !== want) {
    throw new ImageError(
      'bad-channel',
      `the model takes ${want} channel(s) but ${opts.channels === undefined ? `the image has ${have}` : `channels [${opts.channels.join(', ')}] select ${got}`}; pass channels with ${want} index(es)`,
    );
  }
  return images;
}

/** Rescale factor image px → model px from the options (checked; see ./settings.ts). */
export function scaleFromOptions(card: ModelCard, opts: Pick<PreprocessOptions, 'mpp' | 'scale'>): number {
  return resolveScale(card, opts);
}

/**
 * One float image [H, W, C] → rescaled, normalized tiles. `index` is stored in the meta. An entry of its
 * own: checks `scale` and resolves the tiling, then {@link prepareTiles}.
 */
export function prepareImage(
  image: Image,
  card: ModelCard,
  scale: number,
  tiling: TilingChoice = {},
  index = 0,
): PreparedImage {
  return prepareTiles(image, card, checkScale('scale', scale), resolveTiling(card, tiling), index);
}

/** {@link prepareImage} with the scale and tiling already resolved (./settings.ts): checks nothing. */
export function prepareTiles(
  image: Image,
  card: ModelCard,
  scale: number,
  tiling: TilingSettings,
  index = 0,
): PreparedImage {
  const h = Math.max(1, Math.round(image.height * scale));
  const w = Math.max(1, Math.round(image.width * scale));
  // Normalized before rescaling, exactly as the training data was prepared (workers/model/dataset.ts).
  // A bioimage.io import declares its own pre-processing (../bioimageio/card.ts).
  const bio = bioimageioSection(card);
  const { low, high } = card.input.normalization;
  const normalized = bio
    ? applyBioimageOps(image, bio.preprocessing)
    : percentileNormalize(image, { low, high });
  const scaled = h === image.height && w === image.width ? normalized : resizeBilinear(normalized, h, w);
  const { overlap } = tiling;
  const tileSize =
    tiling.tileSize === 'fit' ? fitTileSize(h, w, overlap, card.input.sizeMultiple) : tiling.tileSize;
  const tiles = tileImage(scaled, { tileSize, overlap });
  return {
    tiles,
    meta: {
      index,
      originalHeight: image.height,
      originalWidth: image.width,
      scale,
      scaledHeight: h,
      scaledWidth: w,
    },
  };
}

/**
 * Decoded array → one `PreparedImage` per image in it (a 2-D image gives one; a Z/T stack gives several).
 * @throws ImageError 'bad-channel' / 'bad-dimension-order' (from channel selection), 'bad-argument' for an
 *   option out of range (tileSize not a multiple of the model's, mpp not positive, scale outside [1/8, 8]),
 *   'too-many-pixels' when rescaling would exceed the resize limit.
 */
export function preprocess(
  raw: RawArray,
  opts: PreprocessOptions & { readonly card: ModelCard },
): PreparedImage[] {
  const { card } = opts;
  const scale = resolveScale(card, opts);
  const tiling = resolveTiling(card, opts);
  return selectImages(raw, card, opts).map((image, index) => prepareTiles(image, card, scale, tiling, index));
}
