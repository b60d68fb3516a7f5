/**
 * PNG decoding (our own for non-interlaced files, fast-png for Adam7) and encoding (fast-png), mapped onto
 * the image core's `RawArray`.
 *
 * Decoding:
 * - grey 8/16-bit → axes 'YX', dtype uint8/uint16, values as stored (no scaling);
 * - grey 1/2/4-bit → 'YX' uint8 with the stored values (0..1, 0..3, 0..15; not stretched to 0..255);
 * - grey+alpha, RGB, RGBA → 'YXS' with S = 2, 3, 4 (alpha kept as a sample);
 * - palette → expanded to RGB (or RGBA when the file has a tRNS chunk), 'YXS' uint8; a PLTE chunk in a
 *   non-indexed file (a suggested palette) is ignored.
 * The header's width × height × samples is checked against `maxPixels` before anything is inflated; then the
 * chunks are walked (each must fit in the file, IEND must come) and the image data is inflated in steps,
 * stopping as soon as it exceeds what the header implies (a deflate bomb in IDAT would otherwise grow
 * without bound). Ancillary chunks such as a compressed iCCP profile are never inflated.
 * A non-interlaced image (the usual case) is inflated once, keeping the scanlines, and unfiltered here
 * (png-unfilter.ts). An interlaced one is inflated once to check its size without keeping it, then fast-png
 * decodes a copy holding only IHDR, PLTE, tRNS and IDAT — inflating it again; interlaced files are rare.
 */
import { Unzlib } from 'fflate';
import { convertIndexedToRgb, decode, encode } from 'fast-png';
import type { DType, RawArray } from './types.js';
import { ImageError } from './types.js';
import { unfilterScanlines } from './png-unfilter.js';

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

/** Bit depths the PNG standard allows for each colour type. */
const DEPTHS_OF_COLOR_TYPE: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16],
}; // prettier-ignore

/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
] as const; // prettier-ignore

/** Inflated bytes a PNG may hold beyond its scanlines before it counts as a bomb (sloppy encoders pad). */
const INFLATE_SLACK = 1 << 16;
const INFLATE_STEP = 1 << 12;

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

/**
 * Decodes a PNG file; see the module comment for the axes and dtypes it yields. A non-interlaced PNG is
 * inflated once, straight from its IDAT chunks, and unfiltered here; an interlaced (Adam7) one goes through
 * fast-png (decodePngWithFastPng: inflated twice, once to check its size; such files are rare).
 */
export function decodePng(bytes: Uint8Array, opts: DecodePngOptions = {}): RawArray {
  const header = readPngHeader(bytes, opts);
  if (header.interlaced) return viaFastPng(bytes, header);
  const { width, height, depth, samples, chunks } = header;
  const rowBytes = Math.ceil((width * depth * samples) / 8);
  const scanlines = inflateScanlines(chunks.idat, height * (1 + rowBytes), true);
  // The stream broke after yielding every scanline byte (rare): what fast-png makes of it, image or error.
  if (!scanlines) return viaFastPng(bytes, header);
  try {
    checkPaletteChunks(header);
    return toRawArray(unfilterScanlines(scanlines, height, rowBytes, Math.ceil(depth / 8) * samples), header);
  } catch (err) {
    throw new ImageError('corrupt-data', `PNG data is damaged: ${(err as Error).message}`);
  }
}

/**
 * Decodes a PNG through fast-png's `decode` after checking the inflated size (so inflating twice). decodePng
 * takes this path for interlaced files (and for a stream that breaks only after its last scanline byte);
 * png.test.ts checks decodePng against it. Same result and errors as decodePng.
 */
export function decodePngWithFastPng(bytes: Uint8Array, opts: DecodePngOptions = {}): RawArray {
  return viaFastPng(bytes, readPngHeader(bytes, opts));
}

function viaFastPng(bytes: Uint8Array, header: PngHeader): RawArray {
  const { width, height, depth, colorType, samples, interlaced, chunks } = header;
  inflateScanlines(chunks.idat, scanlineBytes(width, height, depth * samples, interlaced), false);
  let png: ReturnType<typeof decode>;
  let rgb: Uint8Array | undefined;
  try {
    png = decode(rebuild(bytes.subarray(8, 33), chunks, colorType === 3));
    if (colorType === 3) {
      // fast-png would throw a TypeError for an empty palette; any index is past it.
      if (png.palette?.length === 0) throw new Error('Incorrect index of palette color');
      rgb = convertIndexedToRgb(png);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ImageError('corrupt-data', `PNG data is damaged: ${message}`);
  }
  if (png.palette && rgb) {
    const s = png.palette[0]?.length ?? 3;
    if (rgb.length !== width * height * s)
      throw new ImageError(
        'corrupt-data',
        `PNG palette expands to ${rgb.length} values, not ${width}x${height}x${s}`,
      );
    return { data: rgb, dtype: 'uint8', shape: [height, width, s], axes: 'YXS' };
  }
  let data = png.data;
  if (png.depth < 8) data = unpackBits(png.data as Uint8Array, width, height, png.depth);
  else if (data instanceof Uint8ClampedArray)
    data = new Uint8Array(data.buffer, data.byteOffset, data.length);
  const dtype: DType = png.depth === 16 ? 'uint16' : 'uint8';
  const typed = data as Uint8Array | Uint16Array;
  if (typed.length !== width * height * png.channels)
    throw new ImageError(
      'corrupt-data',
      `PNG decodes to ${typed.length} values, not ${width}x${height}x${png.channels}`,
    );
  if (png.channels === 1) return { data: typed, dtype, shape: [height, width], axes: 'YX' };
  return { data: typed, dtype, shape: [height, width, png.channels], axes: 'YXS' };
}

/**
 * The errors fast-png gives for the PLTE and tRNS chunks (its wording), checked before the image data is
 * unfiltered as fast-png does. A PLTE chunk only counts for indexed colour (elsewhere it is a suggested
 * palette); tRNS must fit the colour type: one 16-bit value per sample for grey and RGB, at most one alpha
 * per palette entry, none with an alpha channel.
 */
function checkPaletteChunks({ colorType, width, height, chunks: { plte, trns } }: PngHeader): void {
  if (colorType === 3 && plte!.length % 3 !== 0)
    throw new Error(`PLTE field length must be a multiple of 3. Got ${plte!.length}`);
  if (!trns) return;
  if (colorType === 0 || colorType === 2) {
    if (trns.length % 2 !== 0)
      throw new Error(`tRNS chunk length must be a multiple of 2. Got ${trns.length}`);
    if (trns.length / 2 > width * height)
      throw new Error(
        `tRNS chunk contains more alpha values than there are pixels (${trns.length / 2} vs ${width * height})`,
      );
  } else if (colorType === 3) {
    if (trns.length > plte!.length / 3)
      throw new Error(
        `tRNS chunk contains more alpha values than there are palette colors (${trns.length} vs ${plte!.length / 3})`,
      );
  } else throw new Error(`tRNS chunk is not supported for color type ${colorType}`);
}

/**
 * Unfiltered scanlines (rows padded to whole bytes, 16-bit samples big-endian) → what decodePng returns:
 * palette expanded, 16-bit samples in host order, 1/2/4-bit grey unpacked to a byte per pixel.
 */
function toRawArray(raw: Uint8Array, header: PngHeader): RawArray {
  const { width, height, depth, colorType, dtype, axes } = header;
  const shape = [...header.shape];
  if (colorType === 3) {
    const data = expandPalette(raw, width, height, depth, header.chunks.plte!, header.chunks.trns);
    return { data, dtype, shape, axes };
  }
  if (depth === 16) {
    const data = new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2);
    for (let i = 0; i < data.length; i++) data[i] = (raw[2 * i]! << 8) | raw[2 * i + 1]!;
    return { data, dtype, shape, axes };
  }
  const data = depth < 8 ? unpackBits(raw, width, height, depth) : raw;
  return { data, dtype, shape, axes };
}

/** Palette indices of 1..8 bits (rows padded to whole bytes) → RGB, or RGBA with tRNS (alpha 255 past it). */
function expandPalette(
  raw: Uint8Array,
  width: number,
  height: number,
  depth: number,
  plte: Uint8Array,
  trns: Uint8Array | undefined,
): Uint8Array {
  const colours = Math.min(256, plte.length / 3);
  const s = trns ? 4 : 3;
  const lut = new Uint8Array(256 * s);
  for (let i = 0; i < colours; i++) {
    lut.set(plte.subarray(3 * i, 3 * i + 3), i * s);
    if (trns) lut[i * s + 3] = i < trns.length ? trns[i]! : 255;
  }
  const out = new Uint8Array(width * height * s);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0, o = 0; y < height; y++) {
    const row = y * rowBytes;
    for (let x = 0; x < width; x++, o += s) {
      const bit = x * depth;
      const index = depth === 8 ? raw[row + x]! : (raw[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
      if (index >= colours) throw new Error('Incorrect index of palette color');
      for (let k = 0; k < s; k++) out[o + k] = lut[index * s + k]!;
    }
  }
  return out;
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

/** Bytes of the filtered scanlines (a filter byte per row) of a width x height image, Adam7 or not. */
function scanlineBytes(width: number, height: number, bitsPerPixel: number, adam7: boolean): number {
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0);
  if (!adam7) return rows(width, height);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7)
    total += rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy));
  return total;
}

/**
 * Inflates the image data: 'corrupt-data' as soon as it exceeds `scanlines` bytes (plus a little slack) or
 * when the stream is damaged, 'truncated' when it ends short of `scanlines`. With `keep`, returns the first
 * `scanlines` bytes as the inflater's chunks — or undefined when the stream broke only after yielding them
 * all (fast-png then decides: it may still read the image or give its own error); without, returns [].
 * Input goes in 4 KiB steps, so one step can overshoot the limit by what 4 KiB inflates to (≤ 4 MiB).
 */
function inflateScanlines(
  idat: readonly Uint8Array[],
  scanlines: number,
  keep: boolean,
): Uint8Array[] | undefined {
  let total = 0;
  const kept: Uint8Array[] = [];
  const inflater = new Unzlib((chunk) => {
    if (keep && total < scanlines)
      kept.push(total + chunk.length <= scanlines ? chunk : chunk.subarray(0, scanlines - total));
    total += chunk.length;
  });
  let brokeAfterScanlines = false;
  try {
    for (const data of idat) {
      for (let p = 0; p < data.length && total <= scanlines + INFLATE_SLACK; p += INFLATE_STEP)
        inflater.push(data.subarray(p, p + INFLATE_STEP));
    }
    if (total <= scanlines + INFLATE_SLACK) inflater.push(new Uint8Array(0), true);
  } catch (err) {
    if (total < scanlines) {
      throw new ImageError(
        'corrupt-data',
        `PNG image data is damaged after ${total} of ${scanlines} bytes: ${(err as Error).message}`,
      );
    }
    brokeAfterScanlines = true;
  }
  if (total > scanlines + INFLATE_SLACK) {
    throw new ImageError(
      'corrupt-data',
      `PNG image data inflates past the ${scanlines} bytes its header implies (a deflate bomb?)`,
    );
  }
  if (total < scanlines) {
    throw new ImageError(
      'truncated',
      `PNG image data holds ${total} of the ${scanlines} bytes its header implies`,
    );
  }
  return brokeAfterScanlines && keep ? undefined : kept;
}

/**
 * A PNG of the critical chunks only (plus tRNS; PLTE only when `indexed`: elsewhere it is a suggested palette
 * fast-png would apply to RGB pixels), IDATs joined into one; CRCs are left 0 (not checked).
 */
function rebuild(ihdr: Uint8Array, chunks: PngChunks, indexed: boolean): Uint8Array {
  const idatLength = chunks.idat.reduce((n, d) => n + d.length, 0);
  const parts: [string, Uint8Array | readonly Uint8Array[], number][] = [
    ['IHDR', ihdr.subarray(8, 21), 13],
    ...(indexed && chunks.plte
      ? [['PLTE', chunks.plte, chunks.plte.length] as [string, Uint8Array, number]]
      : []),
    ...(chunks.trns ? [['tRNS', chunks.trns, chunks.trns.length] as [string, Uint8Array, number]] : []),
    ['IDAT', chunks.idat, idatLength],
    ['IEND', new Uint8Array(0), 0],
  ];
  const out = new Uint8Array(8 + parts.reduce((n, [, , len]) => n + 12 + len, 0));
  const view = new DataView(out.buffer);
  out.set(PNG_SIGNATURE);
  let p = 8;
  for (const [type, data, length] of parts) {
    view.setUint32(p, length);
    for (let i = 0; i < 4; i++) out[p + 4 + i] = type.charCodeAt(i);
    p += 8;
    for (const d of data instanceof Uint8Array ? [data] : data) {
      out.set(d, p);
      p += d.length;
    }
    p += 4;
  }
  return out;
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
