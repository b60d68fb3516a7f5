/**
 * 3-D segmentation of a ZYX stack with a 2-D model: every z plane is segmented by the same pipeline as a 2-D
 * image, at one scale for the whole stack, and the planes' labels are stitched across z
 * (../image/stitch.ts). The scale: from `mpp` / `scale` when given; else the autoscale of the plane with the
 * largest mean intensity (the one most likely to cut through many nuclei), used for every plane so all
 * planes see nuclei at the same size.
 * A stack whose pages carry no axis names ('Q', a plain multi-page TIFF) is taken as z, as the caller asked
 * for 3-D; a time axis (T > 1) is refused: one volume at a time.
 */
import { stitchSlices, type LabelVolume, type StitchOptions } from '../image/stitch.js';
import { ImageError, type RawArray } from '../image/types.js';
import type { ModelCard } from '../model/model-io.js';
import type { ModelRunner } from '../model/runners.js';
import { selectImages } from './preprocess.js';
import { segmentPlane, type SegmentOptions } from './segment.js';
import { atFixedScale, resolveSettings } from './settings.js';

export interface VolumeOptions extends SegmentOptions {
  readonly stitch?: StitchOptions;
}

export interface VolumeResult {
  /** Labels [Z, H, W] at the original size, ids 1..N across the volume. */
  readonly volume: LabelVolume;
  /** Image px → model px factor used for every plane. */
  readonly scale: number;
  /** The plane the scale was measured on (undefined when given by mpp/scale or autoscale is off). */
  readonly scalePlane?: number;
  /** Network passes in all. */
  readonly passes: number;
}

/** Segments the stack `raw` (axes with Z or Q, Y, X and optionally C) into one 3-D label volume. */
export async function segmentVolume(
  raw: RawArray,
  runner: ModelRunner,
  card: ModelCard,
  opts: VolumeOptions = {},
): Promise<VolumeResult> {
  const sizeOf = (axis: string) => {
    const i = raw.axes.indexOf(axis);
    return i < 0 ? 1 : raw.shape[i]!;
  };
  if (sizeOf('T') > 1)
    throw new ImageError(
      'bad-dimension-order',
      `the image has ${sizeOf('T')} time points (axes '${raw.axes}'); 3-D segmentation takes one volume — send each time point on its own`,
    );
  const settings = resolveSettings(card, opts); // every option checked once, before any work
  // The stitch options by the stitcher's own checks, on one 1x1 slice, before any plane is segmented.
  stitchSlices([{ data: new Uint32Array(1), height: 1, width: 1 }], opts.stitch);
  const planes = selectImages(raw, card, settings);
  if (sizeOf('Z') * sizeOf('Q') !== planes.length || planes.length < 2)
    throw new ImageError(
      'bad-dimension-order',
      `3-D segmentation needs a stack of z planes (axes Z or Q, with Y and X); got axes '${raw.axes}' ` +
        `shape [${raw.shape.join(', ')}] (${planes.length} plane${planes.length === 1 ? '' : 's'})`,
    );
  let scale: number | undefined = opts.scale;
  let scalePlane: number | undefined;
  let passes = 0;
  const auto = settings.autoscale;
  const slices = new Array<Awaited<ReturnType<typeof segmentPlane>> | undefined>(planes.length);
  if (auto) {
    let best = 0;
    let bestMean = -Infinity;
    planes.forEach((p, z) => {
      let sum = 0;
      for (const v of p.data) sum += v;
      const mean = sum / p.data.length;
      if (mean > bestMean) [best, bestMean] = [z, mean];
    });
    const r = await segmentPlane(planes[best]!, best, runner, card, settings);
    slices[best] = r;
    scale = r.scale;
    scalePlane = best;
    passes += r.passes;
  }
  const fixed = auto ? atFixedScale(settings, scale!) : settings;
  for (const [z, plane] of planes.entries()) {
    if (slices[z]) continue;
    const r = await segmentPlane(plane, z, runner, card, fixed);
    slices[z] = r;
    scale ??= r.scale;
    passes += r.passes;
  }
  const volume = stitchSlices(
    slices.map((s) => s!.labels),
    opts.stitch,
  );
  return { volume, scale: scale!, ...(scalePlane !== undefined ? { scalePlane } : {}), passes };
}
