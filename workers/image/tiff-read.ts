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
 * `maxPixels` before anything is allocated ('too-many-pixels'); at most `maxFrames` IFDs are read
 * ('too-many-frames'); decoders write into buffers sized from the image header, never from the compressed
 * stream; strips or tiles may cover at most 4x the page plus 2^20 values (so a 1x1 image cannot ask for
 * thousands of 2048x2048 tiles); IFD chains that loop or overlap are refused ('corrupt-data').
 */
import {
  COMPRESSION_NAMES,
  HOST_LITTLE_ENDIAN,
  decodeDeflate,
  decodeLzw,
  decodePackBits,
  LzwTables,
  swapBytes,
  undoFloatPredictor,
  undoHorizontalPredictor,
} from './tiff-codecs.js';
import { stackFromDescription } from './tiff-axes.js';
import { DEFAULT_MAX_FRAMES, type Ifd, type IfdEntry, Tag, TiffContainer } from './tiff-ifd.js';
import type { DType, RawArray, TypedPixels } from './types.js';
import { ImageError } from './types.js';
import { DEFAULT_MAX_PIXELS } from './png.js';

export { DEFAULT_MAX_FRAMES };

export interface DecodeTiffOptions {
  /** Refuse images with more than this many values (width × height × samples × pages). @default 2^28 */
  readonly maxPixels?: number;
  /** Refuse files that chain more IFDs (pages, thumbnails included) than this. @default 10_000 */
  readonly maxFrames?: number;
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
  /** StripOffsets / TileOffsets, and the byte counts (absent: uncompressed chunks of the expected size). */
  readonly offsets: IfdEntry;
  readonly byteCounts: IfdEntry | undefined;
}

/** What a TIFF holds, from its IFDs alone (no pixel data read): page layouts, page axes, output shape. */
export interface TiffLayout {
  readonly file: TiffContainer;
  readonly pages: readonly PageLayout[];
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly axes: string;
  readonly physicalSizeX?: number;
  readonly physicalSizeY?: number;
}

/** Extra strip/tile values allowed beyond 4x the page (tile padding of small images). */
const CHUNK_SLACK_VALUES = 2 ** 20;

const SUPPORTED_COMPRESSION = new Set([1, 5, 8, 32773, 32946]);

/**
 * Reads a TIFF's IFDs and checks everything the header decides — format, sample type, compression, shape,
 * pixel and frame limits — without touching pixel data: the same errors decodeTiff gives for those, in
 * microseconds. decodeTiff = readTiffLayout + decoding each page.
 */
export function readTiffLayout(bytes: Uint8Array, opts: DecodeTiffOptions = {}): TiffLayout {
  const file = new TiffContainer(bytes, opts.maxFrames ?? DEFAULT_MAX_FRAMES);
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
    xResolution: file.numbers(fullRes[0]!, Tag.XResolution, 1)?.[0],
    yResolution: file.numbers(fullRes[0]!, Tag.YResolution, 1)?.[0],
  });
  const total = pageValues * stack.pages;
  if (total > maxPixels) {
    throw new ImageError(
      'too-many-pixels',
      `TIFF of ${stack.pages} page(s) of ${first.width}x${first.height}x${first.samples} = ${total} values ` +
        `is over the limit of ${maxPixels}`,
    );
  }
  const pages = [first];
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
    pages.push(page);
  }
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
  const layout: TiffLayout = { file, pages, dtype: first.dtype, shape, axes };
  if (stack.physicalSizeX === undefined) return layout;
  return { ...layout, physicalSizeX: stack.physicalSizeX, physicalSizeY: stack.physicalSizeY };
}

/** Decodes a TIFF file; see the module comment for what it supports and the axes it yields. */
export function decodeTiff(bytes: Uint8Array, opts: DecodeTiffOptions = {}): RawArray {
  const layout = readTiffLayout(bytes, opts);
  const first = layout.pages[0]!;
  const pageBytes = first.width * first.height * first.samples * first.bytesPerSample;
  const out = new Uint8Array(pageBytes * layout.pages.length);
  const lzw = new LzwTables();
  for (const page of layout.pages)
    decodePage(layout.file, page, out.subarray(page.index * pageBytes, (page.index + 1) * pageBytes), lzw);
  const { dtype, shape, axes } = layout;
  const result: RawArray = { data: typedView(out.buffer, dtype), dtype, shape, axes };
  if (layout.physicalSizeX === undefined) return result;
  return { ...result, physicalSizeX: layout.physicalSizeX, physicalSizeY: layout.physicalSizeY };
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

/** A tag value that must be a whole number >= `min` (ImageWidth, RowsPerStrip...): else 'corrupt-data'. */
function wholeNumber(value: number, min: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new ImageError(value === 0 && min > 0 ? 'empty-image' : 'corrupt-data', `${what} is ${value}`);
  return value;
}

/** The value every sample shares for `tag` (BitsPerSample, SampleFormat), or throws naming both. */
function uniformValue(
  file: TiffContainer,
  ifd: Ifd,
  tag: number,
  samples: number,
  fallback: number,
): number | undefined {
  const e = ifd.entries.get(tag);
  if (!e || e.count === 0) return fallback;
  const v = file.valueAt(e, 0);
  for (let i = 1; i < Math.min(e.count, samples); i++) if (file.valueAt(e, i) !== v) return undefined;
  return v;
}

function readLayout(file: TiffContainer, ifd: Ifd, index: number, maxPixels: number): PageLayout {
  const where = `TIFF page ${index}`;
  const rawWidth = file.number(ifd, Tag.ImageWidth, 0);
  const rawHeight = file.number(ifd, Tag.ImageLength, 0);
  if (rawWidth === 0 || rawHeight === 0)
    throw new ImageError('empty-image', `${where} is ${rawWidth}x${rawHeight} pixels`);
  const width = wholeNumber(rawWidth, 1, `${where}'s width`);
  const height = wholeNumber(rawHeight, 1, `${where}'s height`);
  const samples = wholeNumber(file.number(ifd, Tag.SamplesPerPixel, 1), 1, `${where}'s SamplesPerPixel`);
  if (width * height * samples > maxPixels) {
    throw new ImageError(
      'too-many-pixels',
      `${where} of ${width}x${height}x${samples} = ${width * height * samples} values is over the limit of ${maxPixels}`,
    );
  }
  const bits = uniformValue(file, ifd, Tag.BitsPerSample, samples, 1);
  const format = uniformValue(file, ifd, Tag.SampleFormat, samples, 1);
  if (bits === undefined || format === undefined) {
    const list = (tag: number) => (file.numbers(ifd, tag, Math.min(samples, 8)) ?? [1]).join(', ');
    throw new ImageError(
      'unsupported-dtype',
      `${where} mixes sample types: BitsPerSample [${list(Tag.BitsPerSample)}], SampleFormat [${list(Tag.SampleFormat)}]`,
    );
  }
  const dtype = dtypeOf(bits, format, index);
  const compression = file.number(ifd, Tag.Compression, 1);
  if (!SUPPORTED_COMPRESSION.has(compression)) {
    const name = COMPRESSION_NAMES[compression] ?? 'unknown';
    throw new ImageError('unsupported-compression', `${where} uses compression ${compression} (${name})`);
  }
  const predictor = file.number(ifd, Tag.Predictor, 1);
  const bytesPerSample = bits / 8;
  const isFloat = dtype.startsWith('float');
  if (predictor !== 1 && !(predictor === 2 && bytesPerSample <= 4) && !(predictor === 3 && isFloat)) {
    throw new ImageError(
      'unsupported-compression',
      `${where} uses predictor ${predictor} with ${dtype} samples`,
    );
  }
  const planar = samples > 1 && file.number(ifd, Tag.PlanarConfiguration, 1) === 2;
  const tiled = ifd.entries.has(Tag.TileWidth);
  const kind = tiled ? 'tile' : 'strip';
  const chunkWidth = tiled
    ? wholeNumber(file.number(ifd, Tag.TileWidth, 0), 1, `${where}'s TileWidth`)
    : width;
  const chunkHeight = tiled
    ? wholeNumber(file.number(ifd, Tag.TileLength, 0), 1, `${where}'s TileLength`)
    : Math.min(wholeNumber(file.number(ifd, Tag.RowsPerStrip, height), 1, `${where}'s RowsPerStrip`), height);
  const across = Math.ceil(width / chunkWidth);
  const down = Math.ceil(height / chunkHeight);
  const needed = across * down * (planar ? samples : 1);
  const covered = needed * chunkWidth * chunkHeight * (planar ? 1 : samples);
  const pageValues = width * height * samples;
  if (covered > 4 * pageValues + CHUNK_SLACK_VALUES) {
    throw new ImageError(
      'corrupt-data',
      `${where} of ${width}x${height}x${samples} has ${needed} ${chunkWidth}x${chunkHeight} ${kind}s ` +
        `covering ${covered} values, far more than the image`,
    );
  }
  const offsets = ifd.entries.get(tiled ? Tag.TileOffsets : Tag.StripOffsets);
  if (!offsets || offsets.count < needed) {
    throw new ImageError(
      'corrupt-data',
      `${where} needs ${needed} ${kind} offsets, has ${offsets?.count ?? 0}`,
    );
  }
  const byteCounts = ifd.entries.get(tiled ? Tag.TileByteCounts : Tag.StripByteCounts);
  if ((byteCounts === undefined && compression !== 1) || (byteCounts && byteCounts.count < needed)) {
    throw new ImageError(
      'corrupt-data',
      `${where} needs ${needed} byte counts, has ${byteCounts?.count ?? 0}`,
    );
  }
  // Both lists must lie in the file before any chunk is decoded ('truncated' otherwise).
  file.valueAt(offsets, needed - 1);
  if (byteCounts) file.valueAt(byteCounts, needed - 1);
  return {
    index, width, height, samples, bytesPerSample, dtype, compression, predictor, planar, tiled,
    chunkWidth, chunkHeight, offsets, byteCounts,
  }; // prettier-ignore
}

/** Decodes every chunk of one page into `out` (the page's bytes, host order, in the output layout). */
function decodePage(file: TiffContainer, page: PageLayout, out: Uint8Array, lzw: LzwTables): void {
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
    const chunk = readChunk(file, page, i, chunkRows, chunkRowBytes, lzw);
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
  lzw: LzwTables,
): Uint8Array {
  const kind = page.tiled ? 'tile' : 'strip';
  const where = `${kind} ${i} of TIFF page ${page.index}`;
  const expected = rows * rowBytes;
  const offset = file.valueAt(page.offsets, i);
  const count = page.byteCounts ? file.valueAt(page.byteCounts, i) : expected;
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
    if (page.compression === 5) written = decodeLzw(src, chunk, lzw);
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
