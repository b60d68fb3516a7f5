/**
 * The real segmentation stages: exactly the functions `kiosk segment` composes (workers/pipeline), split at
 * the pool boundaries, with the same defaults (autoscale: a second pass at the measured nucleus size when
 * no µm/px is given; up to DEFAULT_MAX_PASSES passes), so the service's labels equal `kiosk segment`'s for the same image and options.
 */
import { decodeImage } from '../image/decode.js';
import { encodeLabelsTiff } from '../image/tiff-write.js';
import { labelSource, labelTiffOptions, type LabelSource } from '../image/tiff-write-labels.js';
import type { TileGrid } from '../pipeline/postprocess.js';
import { postprocess } from '../pipeline/postprocess.js';
import { predictTiles } from '../pipeline/predict.js';
import { prepareImage, scaleFromOptions, selectImages, type ImageMeta } from '../pipeline/preprocess.js';
import { DEFAULT_MAX_PASSES } from '../pipeline/options.js';
import { rescaleForDiameter } from '../pipeline/scale.js';
import type { ModelCard } from '../model/model-io.js';
import type { HeadMaps } from '../model/runners.js';
import { BadInputError } from '../queues/errors.js';
import type { CardLike, PreparedImage, SegmentationStages, StageOptions } from './stages.js';
import {
  encodeVolume,
  isVolumeMeta,
  nextVolumeScale,
  postprocessVolume,
  preprocessVolume,
} from './pipeline-volume.js';

/** What postprocess needs of a prepared image: where the tiles lay and how the image was resized. */
interface PipelineMeta {
  readonly grid: TileGrid;
  readonly image: ImageMeta;
  /** The input file's pixel size and flavour, for the label TIFF (absent in meta packed before them). */
  readonly source?: LabelSource;
}

const asCard = (card: CardLike) => card as unknown as ModelCard;

function preprocessOptions(opts: StageOptions) {
  return {
    ...(opts.micronsPerPixel !== undefined ? { mpp: opts.micronsPerPixel } : {}),
    ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
    ...(opts.channels?.length ? { channels: opts.channels } : {}),
    ...(opts.dimensionOrder ? { dimensionOrder: opts.dimensionOrder } : {}),
  };
}

export const pipelineStages: SegmentationStages = {
  preprocess(bytes, name, cardLike, opts, scale) {
    const card = asCard(cardLike);
    const po = preprocessOptions(opts);
    if (opts.volume) return preprocessVolume(bytes, name, card, opts, po, scale);
    const raw = decodeImage(bytes, { name, maxPixels: opts.maxPixels, maxFrames: opts.maxFrames });
    const s = scale ?? scaleFromOptions(card, po);
    const images = selectImages(raw, card, po);
    if (images.length !== 1) {
      throw new BadInputError(
        'stack-not-supported',
        `${name}: holds ${images.length} images (a Z/T stack); the service segments one 2-D image per file — set the option volume for a ZYX stack (3-D labels), or split the stack`,
      );
    }
    const prepared = prepareImage(images[0]!, card, s, {}, 0);
    const { tiles, ...grid } = prepared.tiles;
    const meta: PipelineMeta = { grid, image: prepared.meta, source: labelSource(raw, bytes) };
    return {
      tiles,
      n: grid.count,
      h: grid.tileSize,
      w: grid.tileSize,
      c: grid.channels,
      meta,
    } satisfies PreparedImage;
  },

  async predict(p, runner) {
    // One call with every tile: the TileBatcher behind `runner` splits and pools them with other jobs'.
    const [maps] = await predictTiles(
      runner,
      [{ tiles: p.tiles, count: p.n, tileSize: p.h, channels: p.c }],
      {
        batchSize: Math.max(1, p.n),
      },
    );
    return maps!;
  },

  postprocess(outputs, meta, card) {
    if (isVolumeMeta(meta)) return postprocessVolume(outputs as HeadMaps, meta, asCard(card));
    const m = meta as PipelineMeta;
    return postprocess(outputs as HeadMaps, m.grid, m.image, { card: asCard(card) });
  },

  nextScale(labels, meta, card, opts, pass) {
    const auto = opts.micronsPerPixel === undefined && opts.scale === undefined;
    if (!auto || pass >= DEFAULT_MAX_PASSES) return undefined;
    if (isVolumeMeta(meta)) return nextVolumeScale(labels, meta, asCard(card), pass);
    return rescaleForDiameter(
      labels,
      (meta as PipelineMeta).image.scale,
      asCard(card).input.targetDiameterPx,
    );
  },

  encodeLabels(labels, meta, opts) {
    if (isVolumeMeta(meta)) return encodeVolume(labels, meta, opts);
    const source = (meta as PipelineMeta | undefined)?.source;
    return encodeLabelsTiff(labels, labelTiffOptions(source, opts?.micronsPerPixel));
  },
};
