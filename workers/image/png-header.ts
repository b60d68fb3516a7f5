/**
 * Reading a PNG's signature, header (IHDR) and chunk list without inflating anything: the size, pixel-limit,
 * colour-type and bit-depth checks every PNG decode starts with (png.ts decodes; png-inflate.ts inflates).
 */
import { ImageError } from './types.js';
import type { DType } from './types.js';

/** Default pixel budget shared by the decoders: 2^28 values (1 GiB as float32). */
export const DEFAULT_MAX_PIXELS = 2 ** 28;

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const SAMPLES_OF_COLOR_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** True when `bytes` starts with the 8-byte PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

export interface DecodePngOptions {
  /** Refuse images with more than this many values (width × height × samples). @default 2^28 */
  readonly maxPixels?: number;
}

/** Bit depths the PNG standard allows for each colour type. */
const DEPTHS_OF_COLOR_TYPE: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16],
}; // prettier-ignore

/** What a PNG's header and chunk list say (no image data inflated): the checked IHDR fields and the output. */
export interface PngHeader {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly colorType: number;
  readonly samples: number;
  readonly interlaced: boolean;
  readonly chunks: PngChunks;
  /** What decodePng returns: dtype, shape and axes. */
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly axes: 'YX' | 'YXS';
}

/**
 * Checks a PNG's signature, IHDR (size, pixel limit, colour type and bit depth) and chunk list (each chunk
 * inside the file, IEND present, PLTE when indexed) without inflating anything: the errors decodePng gives
 * for those. decodePng = readPngHeader + inflating and unfiltering the image data.
 */
export function readPngHeader(bytes: Uint8Array, opts: DecodePngOptions = {}): PngHeader {
  if (!isPng(bytes))
    throw new ImageError('not-an-image', 'not a PNG file: the 8-byte PNG signature is missing');
  if (bytes.length < 33)
    throw new ImageError('truncated', `PNG file ends at byte ${bytes.length}, inside IHDR`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = bytes[24]!;
  const colorType = bytes[25]!;
  if (width === 0 || height === 0) {
    throw new ImageError('empty-image', `PNG header says ${width}x${height} pixels`);
  }
  const samples = SAMPLES_OF_COLOR_TYPE[colorType];
  if (samples === undefined) {
    throw new ImageError(
      'unsupported-format',
      `PNG color type ${colorType} is not defined by the PNG standard`,
    );
  }
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const count = width * height * (colorType === 3 ? 4 : samples);
  if (count > maxPixels) {
    throw new ImageError(
      'too-many-pixels',
      `PNG of ${width}x${height}x${samples} = ${count} values is over the limit of ${maxPixels}`,
    );
  }
  if (!DEPTHS_OF_COLOR_TYPE[colorType]!.includes(depth)) {
    throw new ImageError('unsupported-format', `PNG color type ${colorType} cannot have bit depth ${depth}`);
  }
  const interlace = bytes[28]!;
  if (bytes[26] !== 0 || bytes[27] !== 0 || interlace > 1) {
    throw new ImageError(
      'unsupported-format',
      `PNG compression ${bytes[26]}, filter ${bytes[27]}, interlace ${interlace}: not defined by the standard`,
    );
  }
  const chunks = readChunks(bytes, view);
  if (colorType === 3 && !chunks.plte)
    throw new ImageError('corrupt-data', 'PNG with a palette (color type 3) has no PLTE chunk');
  const s = colorType === 3 ? (chunks.trns ? 4 : 3) : samples;
  return {
    width, height, depth, colorType, samples, interlaced: interlace === 1, chunks,
    dtype: depth === 16 ? 'uint16' : 'uint8',
    shape: s === 1 ? [height, width] : [height, width, s],
    axes: s === 1 ? 'YX' : 'YXS',
  }; // prettier-ignore
}

export interface PngChunks {
  readonly plte?: Uint8Array;
  readonly trns?: Uint8Array;
  readonly idat: Uint8Array[];
}

/** Walks the chunks after the signature up to IEND; each must fit in the file ('truncated' otherwise). */
function readChunks(bytes: Uint8Array, view: DataView): PngChunks {
  const idat: Uint8Array[] = [];
  let plte: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  for (let p = 8; ;) {
    if (p + 8 > bytes.length) {
      throw new ImageError('truncated', `PNG file ends at byte ${bytes.length} before its IEND chunk`);
    }
    const length = view.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4]!, bytes[p + 5]!, bytes[p + 6]!, bytes[p + 7]!);
    if (p + 12 + length > bytes.length) {
      throw new ImageError(
        'truncated',
        `PNG file ends at byte ${bytes.length}, inside a ${length}-byte ${JSON.stringify(type)} chunk at byte ${p}`,
      );
    }
    if (p === 8 && (type !== 'IHDR' || length !== 13))
      throw new ImageError(
        'corrupt-data',
        `PNG starts with a ${length}-byte ${JSON.stringify(type)} chunk, not IHDR`,
      );
    const data = bytes.subarray(p + 8, p + 8 + length);
    if (type === 'IEND') return { idat, ...(plte ? { plte } : {}), ...(trns ? { trns } : {}) };
    if (type === 'IDAT') idat.push(data);
    else if (type === 'PLTE') plte = data;
    else if (type === 'tRNS') trns = data;
    p += 12 + length;
  }
}
