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
 *
 * Where the parts are: png-header.ts reads the signature, IHDR and chunk list; png-inflate.ts inflates the
 * image data within its bound; png-unfilter.ts undoes the scanline filters; png-pixels.ts turns scanlines
 * into samples. This module holds decodePng, the fast-png path and encodePng.
 */
import { convertIndexedToRgb, decode, encode } from 'fast-png';
import type { DType, RawArray } from './types.js';
import { ImageError } from './types.js';
import { unfilterScanlines } from './png-unfilter.js';
import {
  PNG_SIGNATURE,
  readPngHeader,
  type DecodePngOptions,
  type PngChunks,
  type PngHeader,
} from './png-header.js';
import { inflateScanlines, scanlineBytes } from './png-inflate.js';
import { checkPaletteChunks, toRawArray, unpackBits } from './png-pixels.js';

export {
  DEFAULT_MAX_PIXELS,
  isPng,
  readPngHeader,
  type DecodePngOptions,
  type PngChunks,
  type PngHeader,
} from './png-header.js';

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
