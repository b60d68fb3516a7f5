/**
 * The 3-D variant of the real segmentation stages (`options.volume`, issue 21 #4): a ZYX stack's planes are
 * prepared at one scale and their tiles sent to predict as one set; postprocess labels each plane as the 2-D
 * stages do and stitches them across z (workers/image/stitch.ts), giving the volume as one [Z·H, W] label
 * image (volumeAsLabels) that the processors count and store like any labels; encodeLabels writes it as a ZYX
 * label TIFF. Autoscale as `kiosk segment --3d`: the second pass's scale is measured on the plane with the
 * largest mean intensity (here: on its labels in the first pass's volume).
 */
import { decodeImage } from '../image/decode.js';
import { stitchSlices, volumeSlice } from '../image/stitch.js';
import { encodeLabelVolumeTiff } from '../image/tiff-write-volume.js';
import type { Labels, RawArray } from '../image/types.js';
import type { ModelCard } from '../model/model-io.js';
import type { HeadMaps } from '../model/runners.js';
import {
  postprocess,
  prepareImage,
  rescaleForDiameter,
  scaleFromOptions,
  selectImages,
  type ImageMeta,
  type TileGrid,
} from '../pipeline/index.js';
import { DEFAULT_MAX_PASSES } from '../pipeline/options.js';
import { BadInputError } from '../queues/errors.js';
import type { PreparedImage, StageOptions } from './stages.js';

interface VolumeMeta {
  readonly volume: true;
  readonly grid: TileGrid;
  readonly planes: readonly ImageMeta[];
  readonly height: number;
  readonly width: number;
  /** The plane with the largest mean intensity (autoscale measures there). */
  readonly brightest: number;
  readonly micronsPerPixel?: number;
}

export const isVolumeMeta = (meta: unknown): meta is VolumeMeta =>
  typeof meta === 'object' && meta !== null && (meta as { volume?: unknown }).volume === true;

/** Prepares every z plane of the stack in `bytes` at one scale; their tiles one after another. */
export function preprocessVolume(
  bytes: Uint8Array,
  name: string,
  card: ModelCard,
  opts: StageOptions,
  po: Parameters<typeof selectImages>[2] & Parameters<typeof scaleFromOptions>[1],
  scale?: number,
): PreparedImage {
  const raw: RawArray = decodeImage(bytes, { name, maxPixels: opts.maxPixels, maxFrames: opts.maxFrames });
  if (raw.axes.includes('T') && raw.shape[raw.axes.indexOf('T')]! > 1)
    throw new BadInputError(
      'bad-dimension-order',
      `${name}: has time points; a volume job takes one ZYX stack`,
    );
  const planes = selectImages(raw, card, po);
  if (planes.length < 2)
    throw new BadInputError(
      'bad-dimension-order',
      `${name}: 'volume' needs a stack of z planes (a multi-page TIFF or an OME-TIFF with Z); this file holds one 2-D image`,
    );
  const s = scale ?? scaleFromOptions(card, po);
  let brightest = 0;
  let best = -Infinity;
  const prepared = planes.map((p, z) => {
    let sum = 0;
    for (const v of p.data) sum += v;
    if (sum / p.data.length > best) [best, brightest] = [sum / p.data.length, z];
    return prepareImage(p, card, s, {}, z);
  });
  const { tiles: first, ...grid } = prepared[0]!.tiles;
  const per = first.length;
  const tiles = new Float32Array(per * planes.length);
  prepared.forEach((p, z) => tiles.set(p.tiles.tiles, z * per));
  const meta: VolumeMeta = {
    volume: true,
    grid,
    planes: prepared.map((p) => p.meta),
    height: planes[0]!.height,
    width: planes[0]!.width,
    brightest,
    ...(opts.micronsPerPixel !== undefined || raw.physicalSizeX !== undefined
      ? { micronsPerPixel: opts.micronsPerPixel ?? raw.physicalSizeX }
      : {}),
  };
  return { tiles, n: grid.count * planes.length, h: grid.tileSize, w: grid.tileSize, c: grid.channels, meta };
}

/** Each plane's labels from its share of the maps, stitched across z; the volume as [Z·H, W] labels. */
export function postprocessVolume(maps: HeadMaps, meta: VolumeMeta, card: ModelCard): Labels {
  const per = maps.fg.length / meta.planes.length;
  const part = (a: Float32Array, z: number) => a.subarray(z * per, (z + 1) * per);
  const slices = meta.planes.map((m, z) =>
    postprocess(
      { inner: part(maps.inner, z), outer: part(maps.outer, z), fg: part(maps.fg, z) },
      meta.grid,
      m,
      {
        card,
      },
    ),
  );
  const v = stitchSlices(slices);
  return { data: v.data, height: v.depth * v.height, width: v.width };
}

/** Autoscale's next scale, measured on the brightest plane of the first pass's volume. */
export function nextVolumeScale(
  labels: Labels,
  meta: VolumeMeta,
  card: ModelCard,
  pass: number,
): number | undefined {
  if (pass >= DEFAULT_MAX_PASSES) return undefined;
  const v = { data: labels.data, depth: meta.planes.length, height: meta.height, width: meta.width };
  return rescaleForDiameter(
    volumeSlice(v, meta.brightest),
    meta.planes[0]!.scale,
    card.input.targetDiameterPx,
  );
}

export function encodeVolume(labels: Labels, meta: VolumeMeta, opts?: StageOptions): Uint8Array {
  const depth = meta.planes.length;
  return encodeLabelVolumeTiff(
    { data: labels.data, depth, height: meta.height, width: meta.width },
    opts?.micronsPerPixel ?? meta.micronsPerPixel,
  );
}
