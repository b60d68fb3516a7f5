/**
 * Thin filesystem wrappers around the decoders and encoders: read an image or a label image from a path,
 * write a label image as TIFF. Error messages name the file.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { decodeImage } from './decode.js';
import { encodeLabelsTiff, type EncodeLabelsOptions } from './tiff-write.js';
import type { Labels, RawArray } from './types.js';
import { ImageError } from './types.js';

export interface ReadImageOptions {
  /** Refuse images with more than this many values. @default 2^28 */
  readonly maxPixels?: number;
}

/** Reads and decodes a TIFF or PNG file (see decodeImage). File-system errors (ENOENT...) pass through. */
export async function readImageFile(path: string, opts: ReadImageOptions = {}): Promise<RawArray> {
  const bytes = await readFile(path);
  return decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    ...opts,
    name: basename(path),
  });
}

/** Reads a label image (TIFF or PNG) as `Labels`; see labelsFromRaw for what is accepted. */
export async function readLabelsFile(path: string, opts: ReadImageOptions = {}): Promise<Labels> {
  return labelsFromRaw(await readImageFile(path, opts), basename(path));
}

/**
 * Writes `labels` as a Deflate-compressed uint16 (max ≤ 65535) or uint32 TIFF; see encodeLabelsTiff (`opts`:
 * e.g. the pixel size, labelTiffOptions).
 */
export async function writeLabelsTiff(
  path: string,
  labels: Labels,
  opts: EncodeLabelsOptions = {},
): Promise<void> {
  await writeFile(path, encodeLabelsTiff(labels, { compression: 'deflate', ...opts }));
}

/**
 * Interprets a decoded array as a label image [H, W]: it must have one channel (axes 'YX', or other axes of
 * length 1 only) and hold integers in 0..2^32-1 (any dtype; float labels must have no fractional part).
 * Otherwise → ImageError 'bad-argument' naming `name`, the shape or the first bad pixel (y, x, value).
 * An all-zero image is valid (no objects).
 */
export function labelsFromRaw(raw: RawArray, name = 'labels'): Labels {
  const yi = raw.axes.indexOf('Y');
  const xi = raw.axes.indexOf('X');
  const extra = raw.shape.filter((_, i) => i !== yi && i !== xi);
  if (yi < 0 || xi !== yi + 1 || extra.some((n) => n !== 1) || raw.axes.length !== raw.shape.length) {
    throw new ImageError(
      'bad-argument',
      `${name}: a label image needs one channel (axes YX), got axes '${raw.axes}' shape [${raw.shape.join(', ')}]`,
    );
  }
  const height = raw.shape[yi]!;
  const width = raw.shape[xi]!;
  const src = raw.data;
  if (src instanceof Uint32Array) return { data: src.slice(), height, width };
  if (src instanceof Uint8Array || src instanceof Uint16Array)
    return { data: Uint32Array.from(src), height, width };
  const data = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (!(v >= 0 && v <= 0xffffffff && Math.floor(v) === v)) {
      const y = Math.floor(i / width);
      throw new ImageError(
        'bad-argument',
        `${name}: labels must be integers >= 0, pixel (y=${y}, x=${i - y * width}) is ${v} (dtype ${raw.dtype})`,
      );
    }
    data[i] = v;
  }
  return { data, height, width };
}
