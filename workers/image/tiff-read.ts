/**
 * A baseline TIFF decoder written for microscopy files.
 *
 * Reads classic TIFF and BigTIFF in either byte order; strips or tiles; compression none, LZW, Deflate
 * (8 and 32946) and PackBits; predictor 2 (horizontal) and 3 (floating point); samples uint/int 8/16/32
 * and float 32/64; several samples per pixel, interleaved (PlanarConfiguration 1) or planar (2); several
 * pages of the same shape and dtype, named by OME-XML or ImageJ metadata (see tiff-axes.ts).
 *
 * Output `RawArray` (host byte order, values as stored, no scaling):
 *   shape = [...page axes, (C if planar), Y, X, (S if interleaved)], e.g. 'YX', 'YXS', 'CYX', 'ZCYX', 'QYX'.
 * Reduced-resolution pages (NewSubfileType bit 0, e.g. thumbnails) are skipped. A full-resolution page whose
 * shape or dtype differs from page 0 → 'unsupported-format'.
 *
 * Safety: every offset is checked against the file length ('truncated'); the output size is checked against
 * `maxPixels` before anything is allocated ('too-many-pixels'); decoders write into buffers sized from the
 * image header, never from the compressed stream; IFD chains that loop are refused ('corrupt-data').
 */
import {
  COMPRESSION_NAMES,
  HOST_LITTLE_ENDIAN,
  decodeDeflate,
  decodeLzw,
  decodePackBits,
  swapBytes,
  undoFloatPredictor,
  undoHorizontalPredictor,
} from './tiff-codecs.js';
import { stackFromDescription } from './tiff-axes.js';
import { type Ifd, Tag, TiffContainer } from './tiff-ifd.js';
import type { DType, RawArray, TypedPixels } from './types.js';
import { ImageError } from './types.js';
import { DEFAULT_MAX_PIXELS } from './png.js';

export interface DecodeTiffOptions {
  /** Refuse images with more than this many values (width × height × samples × pages). @default 2^28 */
  readonly maxPixels?: number;
}

/** The layout of one page, validated. */
interface PageLayout {
  readonly index: number;
  readonly width: number;
  readonly height: number;
  readonly samples: number;
  readonly bytesPerSample: number;
  readonly dtype: DType;
  readonly compression: number;
  readonly predictor: number;
  readonly planar: boolean;
  readonly tiled: boolean;
  /** Chunk (strip or tile) width and height in pixels. */
  readonly chunkWidth: number;
  readonly chunkHeight: number;
  readonly offsets: number[];
  readonly byteCounts: number[] | undefined;
}

const SUPPORTED_COMPRESSION = new Set([1, 5, 8, 32773, 32946]);

/** Decodes a TIFF file; see the module comment for what it supports and the axes it yields. */
export function decodeTiff(bytes: Uint8Array, opts: DecodeTiffOptions = {}): RawArray {
  const file = new TiffContainer(bytes);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const fullRes = file.ifds.filter(
    (ifd, i) => i === 0 || (file.number(ifd, Tag.NewSubfileType, 0) & 1) === 0,
  );
  const first = readLayout(file, fullRes[0]!, 0, maxPixels);
  const pageValues = first.width * first.height * first.samples;
  const stack = stackFromDescription({
    description: file.text(fullRes[0]!, Tag.ImageDescription),
    pageCount: fullRes.length,
    samplesPerPixel: first.samples,
    xResolution: file.numbers(fullRes[0]!, Tag.XResolution)?.[0],
    yResolution: file.numbers(fullRes[0]!, Tag.YResolution)?.[0],
  });
  const total = pageValues * stack.pages;
  if (total > maxPixels) {
    throw new ImageError(
      'too-many-pixels',
      `TIFF of ${stack.pages} page(s) of ${first.width}x${first.height}x${first.samples} = ${total} values ` +
        `is over the limit of ${maxPixels}`,
    );
  }
  const layouts = [first];
  for (let p = 1; p < stack.pages; p++) {
    const page = readLayout(file, fullRes[p]!, p, maxPixels);
    if (page.width !== first.width || page.height !== first.height || page.samples !== first.samples) {
      throw new ImageError(
        'unsupported-format',
        `TIFF page ${p} is ${page.width}x${page.height}x${page.samples}, page 0 is ` +
          `${first.width}x${first.height}x${first.samples}; pages of different shapes are not supported`,
      );
    }
    if (page.dtype !== first.dtype) {
      throw new ImageError('unsupported-format', `TIFF page ${p} is ${page.dtype}, page 0 is ${first.dtype}`);
    }
    layouts.push(page);
  }
  const out = new Uint8Array(total * first.bytesPerSample);
  const pageBytes = pageValues * first.bytesPerSample;
  for (const page of layouts)
    decodePage(file, page, out.subarray(page.index * pageBytes, (page.index + 1) * pageBytes));
  const yx = [first.height, first.width];
  let axes = stack.axes;
  let shape = [...stack.shape];
  if (first.samples === 1) {
    axes += 'YX';
    shape.push(...yx);
  } else if (first.planar && axes.endsWith('C')) {
    // OME counts samples as channels (SizeC = pages' C × samples): the planes are already in channel order.
    shape[shape.length - 1]! *= first.samples;
    axes += 'YX';
    shape.push(...yx);
  } else if (first.planar) {
    if (axes.includes('C')) {
      throw new ImageError(
        'unsupported-format',
        `planar TIFF with ${first.samples} samples per page and page axes '${axes}': C is not the fastest page axis`,
      );
    }
    axes += 'CYX';
    shape.push(first.samples, ...yx);
  } else {
    axes += 'YXS';
    shape = [...shape, ...yx, first.samples];
  }
  const result: RawArray = { data: typedView(out.buffer, first.dtype), dtype: first.dtype, shape, axes };
  if (stack.physicalSizeX === undefined) return result;
  return { ...result, physicalSizeX: stack.physicalSizeX, physicalSizeY: stack.physicalSizeY };
}

function typedView(buffer: ArrayBuffer, dtype: DType): TypedPixels {
  switch (dtype) {
    case 'uint8': return new Uint8Array(buffer); // prettier-ignore
    case 'int8': return new Int8Array(buffer); // prettier-ignore
    case 'uint16': return new Uint16Array(buffer); // prettier-ignore
    case 'int16': return new Int16Array(buffer); // prettier-ignore
    case 'uint32': return new Uint32Array(buffer); // prettier-ignore
    case 'int32': return new Int32Array(buffer); // prettier-ignore
    case 'float32': return new Float32Array(buffer); // prettier-ignore
    case 'float64': return new Float64Array(buffer); // prettier-ignore
  }
}

function dtypeOf(bits: number, format: number, page: number): DType {
  const where = `TIFF page ${page}`;
  if (format === 1 || format === 4) {
    if (bits === 8) return 'uint8';
    if (bits === 16) return 'uint16';
    if (bits === 32) return 'uint32';
  } else if (format === 2) {
    if (bits === 8) return 'int8';
    if (bits === 16) return 'int16';
    if (bits === 32) return 'int32';
  } else if (format === 3) {
    if (bits === 32) return 'float32';
    if (bits === 64) return 'float64';
  } else if (format === 5 || format === 6) {
    throw new ImageError('unsupported-dtype', `${where} has complex samples (SampleFormat ${format})`);
  } else {
    throw new ImageError('unsupported-dtype', `${where} has unknown SampleFormat ${format}`);
  }
  const kind = format === 3 ? 'float' : format === 2 ? 'signed integer' : 'unsigned integer';
  throw new ImageError(
    'unsupported-dtype',
    `${where} has ${bits}-bit ${kind} samples (supported: 8/16/32-bit)`,
  );
}

function readLayout(file: TiffContainer, ifd: Ifd, index: number, maxPixels: number): PageLayout {
  const where = `TIFF page ${index}`;
  const width = file.number(ifd, Tag.ImageWidth, 0);
  const height = file.number(ifd, Tag.ImageLength, 0);
  if (width === 0 || height === 0)
    throw new ImageError('empty-image', `${where} is ${width}x${height} pixels`);
  const samples = file.number(ifd, Tag.SamplesPerPixel, 1);
  if (samples < 1) throw new ImageError('empty-image', `${where} has SamplesPerPixel ${samples}`);
  if (width * height * samples > maxPixels) {
    throw new ImageError(
      'too-many-pixels',
      `${where} of ${width}x${height}x${samples} = ${width * height * samples} values is over the limit of ${maxPixels}`,
    );
  }
  const bitsList = file.numbers(ifd, Tag.BitsPerSample) ?? [1];
  const formats = file.numbers(ifd, Tag.SampleFormat) ?? [1];
  if (bitsList.some((b) => b !== bitsList[0]) || formats.some((f) => f !== formats[0])) {
    throw new ImageError(
      'unsupported-dtype',
      `${where} mixes sample types: BitsPerSample [${bitsList.join(', ')}], SampleFormat [${formats.join(', ')}]`,
    );
  }
  const dtype = dtypeOf(bitsList[0]!, formats[0]!, index);
  const compression = file.number(ifd, Tag.Compression, 1);
  if (!SUPPORTED_COMPRESSION.has(compression)) {
    const name = COMPRESSION_NAMES[compression] ?? 'unknown';
    throw new ImageError('unsupported-compression', `${where} uses compression ${compression} (${name})`);
  }
  const predictor = file.number(ifd, Tag.Predictor, 1);
  const bytesPerSample = bitsList[0]! / 8;
  const isFloat = dtype.startsWith('float');
  if (predictor !== 1 && !(predictor === 2 && bytesPerSample <= 4) && !(predictor === 3 && isFloat)) {
    throw new ImageError(
      'unsupported-compression',
      `${where} uses predictor ${predictor} with ${dtype} samples`,
    );
  }
  const planar = samples > 1 && file.number(ifd, Tag.PlanarConfiguration, 1) === 2;
  const tiled = ifd.entries.has(Tag.TileWidth);
  const chunkWidth = tiled ? file.number(ifd, Tag.TileWidth, 0) : width;
  const chunkHeight = tiled
    ? file.number(ifd, Tag.TileLength, 0)
    : Math.min(file.number(ifd, Tag.RowsPerStrip, height), height);
  if (chunkWidth < 1 || chunkHeight < 1) {
    throw new ImageError(
      'corrupt-data',
      `${where} has ${tiled ? 'tiles' : 'strips'} of ${chunkWidth}x${chunkHeight} pixels`,
    );
  }
  const chunkBytes = chunkWidth * chunkHeight * (planar ? 1 : samples) * bytesPerSample;
  if (tiled && chunkBytes > Math.max(width * height * samples * bytesPerSample, 1 << 24)) {
    throw new ImageError(
      'corrupt-data',
      `${where} has ${chunkWidth}x${chunkHeight} tiles, far larger than the image`,
    );
  }
  const across = Math.ceil(width / chunkWidth);
  const down = Math.ceil(height / chunkHeight);
  const needed = across * down * (planar ? samples : 1);
  const offsets = file.numbers(ifd, tiled ? Tag.TileOffsets : Tag.StripOffsets);
  if (!offsets || offsets.length < needed) {
    throw new ImageError(
      'corrupt-data',
      `${where} needs ${needed} ${tiled ? 'tile' : 'strip'} offsets, has ${offsets?.length ?? 0}`,
    );
  }
  const byteCounts = file.numbers(ifd, tiled ? Tag.TileByteCounts : Tag.StripByteCounts);
  if ((byteCounts === undefined && compression !== 1) || (byteCounts && byteCounts.length < needed)) {
    throw new ImageError(
      'corrupt-data',
      `${where} needs ${needed} byte counts, has ${byteCounts?.length ?? 0}`,
    );
  }
  return {
    index, width, height, samples, bytesPerSample, dtype, compression, predictor, planar, tiled,
    chunkWidth, chunkHeight, offsets, byteCounts,
  }; // prettier-ignore
}

/** Decodes every chunk of one page into `out` (the page's bytes, host order, in the output layout). */
function decodePage(file: TiffContainer, page: PageLayout, out: Uint8Array): void {
  const { width, height, samples, bytesPerSample: bps, planar, chunkWidth: cw, chunkHeight: ch } = page;
  const pixelSamples = planar ? 1 : samples;
  const rowBytes = width * pixelSamples * bps;
  const planeBytes = width * height * bps;
  const across = Math.ceil(width / cw);
  const down = Math.ceil(height / ch);
  const perPlane = across * down;
  const chunks = perPlane * (planar ? samples : 1);
  for (let i = 0; i < chunks; i++) {
    const plane = Math.floor(i / perPlane);
    const cy = Math.floor((i % perPlane) / across);
    const cx = (i % perPlane) % across;
    const rows = Math.min(ch, height - cy * ch);
    const cols = Math.min(cw, width - cx * cw);
    // A strip holds only its rows; a tile always holds a full cw x ch block.
    const chunkRows = page.tiled ? ch : rows;
    const chunkRowBytes = cw * pixelSamples * bps;
    const chunk = readChunk(file, page, i, chunkRows, chunkRowBytes);
    const dst = plane * planeBytes + cy * ch * rowBytes + cx * chunkRowBytes;
    if (!page.tiled) {
      out.set(chunk.subarray(0, rows * rowBytes), dst);
    } else {
      const copy = cols * pixelSamples * bps;
      for (let r = 0; r < rows; r++) {
        out.set(chunk.subarray(r * chunkRowBytes, r * chunkRowBytes + copy), dst + r * rowBytes);
      }
    }
  }
}

/** Reads chunk `i` of a page: decompressed, in host byte order, predictor undone; exactly rows × rowBytes. */
function readChunk(
  file: TiffContainer,
  page: PageLayout,
  i: number,
  rows: number,
  rowBytes: number,
): Uint8Array {
  const kind = page.tiled ? 'tile' : 'strip';
  const where = `${kind} ${i} of TIFF page ${page.index}`;
  const expected = rows * rowBytes;
  const offset = page.offsets[i]!;
  const count = page.byteCounts ? page.byteCounts[i]! : expected;
  const bps = page.bytesPerSample;
  const swap = bps > 1 && file.littleEndian !== HOST_LITTLE_ENDIAN && page.predictor !== 3;
  if (count === 0) return new Uint8Array(expected);
  let chunk: Uint8Array;
  if (page.compression === 1) {
    if (count < expected) {
      throw new ImageError('truncated', `${where} has ${count} bytes, its ${rows} rows need ${expected}`);
    }
    file.need(offset, expected, where);
    const raw = file.bytes.subarray(offset, offset + expected);
    if (!swap && page.predictor === 1) return raw;
    chunk = raw.slice();
  } else {
    file.need(offset, count, where);
    const src = file.bytes.subarray(offset, offset + count);
    chunk = new Uint8Array(expected);
    let written: number;
    if (page.compression === 5) written = decodeLzw(src, chunk);
    else if (page.compression === 32773) written = decodePackBits(src, chunk);
    else written = decodeDeflate(src, chunk, where);
    if (written < expected) {
      throw new ImageError(
        'corrupt-data',
        `${where} decodes to ${written} bytes, its ${rows} rows need ${expected}`,
      );
    }
  }
  if (swap) swapBytes(chunk, bps);
  const rowSamples = rowBytes / bps;
  const stride = page.planar ? 1 : page.samples;
  if (page.predictor === 2) undoHorizontalPredictor(chunk, rows, rowSamples, stride, bps);
  else if (page.predictor === 3) undoFloatPredictor(chunk, rows, rowSamples, stride, bps);
  return chunk;
}
