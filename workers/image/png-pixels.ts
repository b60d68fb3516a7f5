/**
 * A PNG's unfiltered scanlines → the samples decodePng returns (png.ts): palette expanded through PLTE and
 * tRNS (checked first), 16-bit samples in host order, 1/2/4-bit grey unpacked to a byte per pixel.
 */
import type { RawArray } from './types.js';
import type { PngHeader } from './png-header.js';

/**
 * The errors fast-png gives for the PLTE and tRNS chunks (its wording), checked before the image data is
 * unfiltered as fast-png does. A PLTE chunk only counts for indexed colour (elsewhere it is a suggested
 * palette); tRNS must fit the colour type: one 16-bit value per sample for grey and RGB, at most one alpha
 * per palette entry, none with an alpha channel.
 */
export function checkPaletteChunks({ colorType, width, height, chunks: { plte, trns } }: PngHeader): void {
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
export function toRawArray(raw: Uint8Array, header: PngHeader): RawArray {
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

/** Unpacks grey samples of 1, 2 or 4 bits (rows padded to whole bytes, MSB first) to one byte each. */
export function unpackBits(packed: Uint8Array, width: number, height: number, depth: number): Uint8Array {
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
