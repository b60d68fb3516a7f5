/**
 * PNG decoding and encoding through fast-png, mapped onto the image core's `RawArray`.
 *
 * Decoding:
 * - grey 8/16-bit → axes 'YX', dtype uint8/uint16, values as stored (no scaling);
 * - grey 1/2/4-bit → 'YX' uint8 with the stored values (0..1, 0..3, 0..15; not stretched to 0..255);
 * - grey+alpha, RGB, RGBA → 'YXS' with S = 2, 3, 4 (alpha kept as a sample);
 * - palette → expanded to RGB (or RGBA when the file has a tRNS chunk), 'YXS' uint8.
 * The header's width × height × samples is checked against `maxPixels` before anything is inflated.
 */
import { convertIndexedToRgb, decode, encode } from 'fast-png';
import type { DType, RawArray } from './types.js';
import { ImageError } from './types.js';

/** Default pixel budget shared by the decoders: 2^28 values (1 GiB as float32). */
export const DEFAULT_MAX_PIXELS = 2 ** 28;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const SAMPLES_OF_COLOR_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** True when `bytes` starts with the 8-byte PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

export interface DecodePngOptions {
  /** Refuse images with more than this many values (width × height × samples). @default 2^28 */
  readonly maxPixels?: number;
}

/** Decodes a PNG file; see the module comment for the axes and dtypes it yields. */
export function decodePng(bytes: Uint8Array, opts: DecodePngOptions = {}): RawArray {
  if (!isPng(bytes))
    throw new ImageError('not-an-image', 'not a PNG file: the 8-byte PNG signature is missing');
  if (bytes.length < 33)
    throw new ImageError('truncated', `PNG file ends at byte ${bytes.length}, inside IHDR`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
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
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const complete = endsWithIend(bytes);
    throw new ImageError(
      complete ? 'corrupt-data' : 'truncated',
      complete ? `PNG data is damaged: ${message}` : `PNG file ends early (no IEND chunk): ${message}`,
    );
  }
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const s = png.palette[0]?.length ?? 3;
    return { data: rgb, dtype: 'uint8', shape: [height, width, s], axes: 'YXS' };
  }
  let data = png.data;
  if (png.depth < 8) data = unpackBits(png.data as Uint8Array, width, height, png.depth);
  else if (data instanceof Uint8ClampedArray)
    data = new Uint8Array(data.buffer, data.byteOffset, data.length);
  const dtype: DType = png.depth === 16 ? 'uint16' : 'uint8';
  const typed = data as Uint8Array | Uint16Array;
  if (png.channels === 1) return { data: typed, dtype, shape: [height, width], axes: 'YX' };
  return { data: typed, dtype, shape: [height, width, png.channels], axes: 'YXS' };
}

function endsWithIend(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return (
    n >= 12 &&
    bytes[n - 8] === 0x49 &&
    bytes[n - 7] === 0x45 &&
    bytes[n - 6] === 0x4e &&
    bytes[n - 5] === 0x44
  );
}

/** Unpacks grey samples of 1, 2 or 4 bits (rows padded to whole bytes, MSB first) to one byte each. */
function unpackBits(packed: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    const row = y * rowBytes;
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (packed[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/**
 * Encodes a grey image, axes 'YX' (or 'YXS' with S = 1..4: grey+alpha, RGB, RGBA), dtype uint8 or uint16,
 * as a PNG of the same bit depth. Other dtypes → 'unsupported-dtype'; a shape that does not match the data
 * length → 'shape-mismatch'.
 */
export function encodePng(raw: Pick<RawArray, 'data' | 'dtype' | 'shape' | 'axes'>): Uint8Array {
  if (raw.dtype !== 'uint8' && raw.dtype !== 'uint16') {
    throw new ImageError('unsupported-dtype', `PNG stores uint8 or uint16 pixels, got ${raw.dtype}`);
  }
  const [height = 0, width = 0, channels = 1] = raw.shape;
  const okAxes =
    (raw.axes === 'YX' && raw.shape.length === 2) || (raw.axes === 'YXS' && raw.shape.length === 3);
  if (!okAxes || channels < 1 || channels > 4) {
    throw new ImageError(
      'bad-argument',
      `PNG needs axes 'YX' or 'YXS' with 1..4 samples, got axes '${raw.axes}' shape [${raw.shape.join(', ')}]`,
    );
  }
  if (width === 0 || height === 0)
    throw new ImageError('empty-image', `cannot encode a ${height}x${width} PNG`);
  if (raw.data.length !== width * height * channels) {
    throw new ImageError(
      'shape-mismatch',
      `shape [${raw.shape.join(', ')}] needs ${width * height * channels} values, data has ${raw.data.length}`,
    );
  }
  const data = raw.data as Uint8Array | Uint16Array;
  return encode({ width, height, data, depth: raw.dtype === 'uint16' ? 16 : 8, channels });
}
