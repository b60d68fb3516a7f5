/**
 * What a label TIFF states about its pixels (issue 23 #3), decided in one place for `kiosk segment` and the
 * service's workers: the pixel size — the µm/px the user gave, else the image file's own (OME-XML
 * PhysicalSizeX/Y, ImageJ unit + resolution) — and the metadata flavour: OME-XML for an OME-TIFF input, else
 * ImageJ's. Labels are at the input's size, so the input's pixel size is theirs.
 */
import { isTiff } from './decode.js';
import { Tag, TiffContainer } from './tiff-ifd.js';
import type { EncodeLabelsOptions, PixelSize } from './tiff-write.js';

/** Pixel sizes a label TIFF states; one outside (a file's odd metadata) is left out, not an error. */
const MIN_PIXEL_UM = 1e-6;
const MAX_PIXEL_UM = 4000;

/** True for an OME-TIFF: page 0's ImageDescription is OME-XML. Anything unreadable → false. */
export function isOmeTiff(bytes: Uint8Array): boolean {
  if (!isTiff(bytes)) return false;
  try {
    const file = new TiffContainer(bytes);
    const d = file.ifds[0] ? file.text(file.ifds[0], Tag.ImageDescription) : undefined;
    return /<(\w+:)?OME[\s>]/.test(d ?? '');
  } catch {
    return false;
  }
}

/** The source image's facts that decide its labels' metadata. */
export interface LabelSource {
  /** µm per pixel the file states (RawArray's physicalSizeX/Y). */
  readonly physicalSizeX?: number;
  readonly physicalSizeY?: number;
  /** The input was an OME-TIFF (isOmeTiff). */
  readonly ome?: boolean;
}

/** The LabelSource of a decoded file and its bytes. */
export function labelSource(
  raw: { readonly physicalSizeX?: number; readonly physicalSizeY?: number },
  bytes: Uint8Array,
): LabelSource {
  return {
    ...(raw.physicalSizeX !== undefined ? { physicalSizeX: raw.physicalSizeX } : {}),
    ...(raw.physicalSizeY !== undefined ? { physicalSizeY: raw.physicalSizeY } : {}),
    ...(isOmeTiff(bytes) ? { ome: true } : {}),
  };
}

/** The pixel size of the labels: `mpp` (the user's µm/px) if given, else the file's, else undefined. */
export function labelPixelSize(
  source: LabelSource | undefined,
  mpp: number | undefined,
): PixelSize | undefined {
  const ok = (v: number | undefined): v is number =>
    v !== undefined && v >= MIN_PIXEL_UM && v <= MAX_PIXEL_UM;
  if (ok(mpp)) return { x: mpp, y: mpp };
  const x = source?.physicalSizeX;
  const y = source?.physicalSizeY ?? x;
  return ok(x) && ok(y) ? { x, y } : undefined;
}

/** encodeLabelsTiff's options for labels of `source` segmented with µm/px `mpp` (Deflate-compressed). */
export function labelTiffOptions(
  source: LabelSource | undefined,
  mpp: number | undefined,
): EncodeLabelsOptions {
  const pixelSize = labelPixelSize(source, mpp);
  return {
    compression: 'deflate',
    ...(pixelSize ? { pixelSize } : {}),
    ...(source?.ome ? { metadata: 'ome' as const } : {}),
  };
}
