/**
 * One entry point for image bytes of any supported format: sniffs the magic bytes and hands the file to the
 * TIFF or PNG decoder. Errors name the file (`opts.name`) so a user with many uploads knows which one failed.
 */
import { DEFAULT_MAX_PIXELS, decodePng, isPng, readPngHeader } from './png.js';
import { DEFAULT_MAX_FRAMES, decodeTiff, readTiffLayout } from './tiff-read.js';
import type { DType, RawArray } from './types.js';
import { ImageError } from './types.js';

export { DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS };

export interface DecodeImageOptions {
  /** File name used in error messages. @default 'image' */
  readonly name?: string;
  /** Refuse images with more than this many values. @default 2^28 */
  readonly maxPixels?: number;
  /** Refuse TIFFs that chain more pages (IFDs) than this. @default 10_000 */
  readonly maxFrames?: number;
}

/** What inspectImage reads from a header: the format, and the dtype, shape and axes decodeImage would give. */
export interface ImageInfo {
  readonly format: 'tiff' | 'png';
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly axes: string;
}

/** Formats we recognise but do not decode, by their leading bytes. */
const KNOWN_UNSUPPORTED: { name: string; magic: (number | null)[] }[] = [
  { name: 'JPEG', magic: [0xff, 0xd8, 0xff] },
  { name: 'GIF', magic: [0x47, 0x49, 0x46, 0x38] },
  { name: 'BMP', magic: [0x42, 0x4d] },
  { name: 'ZIP archive', magic: [0x50, 0x4b, 0x03, 0x04] },
  { name: 'ZIP archive', magic: [0x50, 0x4b, 0x05, 0x06] },
  { name: 'gzip', magic: [0x1f, 0x8b] },
  { name: 'JPEG 2000', magic: [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20] },
  { name: 'JPEG 2000 codestream', magic: [0xff, 0x4f, 0xff, 0x51] },
  { name: 'WebP', magic: [0x52, 0x49, 0x46, 0x46, null, null, null, null, 0x57, 0x45, 0x42, 0x50] },
  { name: 'NumPy .npy', magic: [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] },
  { name: 'HDF5', magic: [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a] },
  { name: 'Zeiss CZI', magic: [0x5a, 0x49, 0x53, 0x52, 0x41, 0x57, 0x46, 0x49, 0x4c, 0x45] },
  { name: 'PDF', magic: [0x25, 0x50, 0x44, 0x46] },
];

function startsWith(bytes: Uint8Array, magic: readonly (number | null)[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => b === null || bytes[i] === b);
}

/** The name of a format we recognise by its leading bytes but do not decode ('GIF', 'JPEG'...), if any. */
export function unsupportedFormatOf(bytes: Uint8Array): string | undefined {
  return KNOWN_UNSUPPORTED.find((f) => startsWith(bytes, f.magic))?.name;
}

/** True for the four TIFF signatures: II*\0, MM\0*, and the BigTIFF II+\0, MM\0+. */
export function isTiff(bytes: Uint8Array): boolean {
  return (
    startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]) ||
    startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])
  );
}

/**
 * Decodes a TIFF (incl. BigTIFF, OME-TIFF, ImageJ) or PNG file into a `RawArray` (see decodeTiff and
 * decodePng for axes and dtypes). Unknown bytes → 'not-an-image'; a recognised format we do not read
 * (JPEG, GIF, BMP, ZIP...) → 'unsupported-format'. Every ImageError message starts with the file name.
 */
export function decodeImage(bytes: Uint8Array, opts: DecodeImageOptions = {}): RawArray {
  return byFormat(bytes, opts, decodeTiff, decodePng);
}

/**
 * Checks what can be checked without decoding pixels — the format by its magic bytes, the header, the pixel
 * and frame limits, the sample type and compression, that the TIFF directories or PNG chunks lie inside the
 * file — in microseconds, with the errors decodeImage would give. The API runs it on every upload so a bad
 * file is refused before a job exists; damage inside the compressed pixel data only decoding can find.
 */
export function inspectImage(bytes: Uint8Array, opts: DecodeImageOptions = {}): ImageInfo {
  return byFormat<ImageInfo>(
    bytes,
    opts,
    (b, limits) => {
      const { dtype, shape, axes } = readTiffLayout(b, limits);
      return { format: 'tiff', dtype, shape, axes };
    },
    (b, limits) => {
      const { dtype, shape, axes } = readPngHeader(b, limits);
      return { format: 'png', dtype, shape, axes };
    },
  );
}

interface Limits {
  readonly maxPixels: number;
  readonly maxFrames: number;
}

/**
 * Hands the bytes to `tiff` or `png` by their magic bytes, with the limits filled in and the file name put
 * before any ImageError's message; anything else is refused (refuseUnknown). decodeImage and inspectImage
 * differ only in the two readers.
 */
function byFormat<T>(
  bytes: Uint8Array,
  opts: DecodeImageOptions,
  tiff: (bytes: Uint8Array, limits: Limits) => T,
  png: (bytes: Uint8Array, limits: Limits) => T,
): T {
  const name = opts.name ?? 'image';
  const limits = {
    maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
    maxFrames: opts.maxFrames ?? DEFAULT_MAX_FRAMES,
  };
  try {
    if (isTiff(bytes)) return tiff(bytes, limits);
    if (isPng(bytes)) return png(bytes, limits);
  } catch (err) {
    if (err instanceof ImageError) throw new ImageError(err.code, `${name}: ${err.message}`);
    throw err;
  }
  return refuseUnknown(bytes, name);
}

function refuseUnknown(bytes: Uint8Array, name: string): never {
  if (bytes.length === 0) throw new ImageError('not-an-image', `${name}: the file is empty (0 bytes)`);
  const known = unsupportedFormatOf(bytes);
  if (known) {
    throw new ImageError('unsupported-format', `${name}: ${known} files are not supported; use TIFF or PNG`);
  }
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new ImageError('not-an-image', `${name}: not a TIFF or PNG file (first bytes: ${head})`);
}
