/**
 * TIFF chunk codecs: LZW, PackBits and Deflate decoders that write into a caller-sized output (so a corrupt
 * stream can never make them allocate more than the chunk needs), the two predictors, and byte swapping.
 * All work in place on typed-array views; no per-pixel closures.
 */
import { unzlibSync } from 'fflate';
import { ImageError } from './types.js';

/** True on little-endian hosts (all current Node platforms); decoders produce host byte order. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Names of the TIFF compression schemes we recognise, for error messages. */
export const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none', 2: 'CCITT RLE', 3: 'CCITT Group 3', 4: 'CCITT Group 4', 5: 'LZW', 6: 'old-style JPEG', 7: 'JPEG',
  8: 'Deflate', 32773: 'PackBits', 32946: 'Deflate (old code)', 33003: 'JPEG 2000 (Aperio)',
  33005: 'JPEG 2000 (Aperio)', 34661: 'JBIG', 34712: 'JPEG 2000', 34887: 'LERC', 34892: 'lossy JPEG',
  34925: 'LZMA', 50000: 'Zstandard', 50001: 'WebP', 50002: 'JPEG XL',
}; // prettier-ignore

/** The string table of the LZW decoder (32 KiB), reusable across the chunks of a file. */
export class LzwTables {
  readonly starts = new Int32Array(4096);
  readonly lengths = new Int32Array(4096);
}

/**
 * Decodes TIFF LZW (MSB-first codes of 9..12 bits, early change) into `out`; stops at EOI, at the end of
 * the input, or when `out` is full. Returns the number of bytes written. Each table entry is stored as a
 * (start, length) span of earlier output, so emitting a code is one block copy.
 */
export function decodeLzw(src: Uint8Array, out: Uint8Array, tables: LzwTables = new LzwTables()): number {
  if (src.length >= 2 && src[0] === 0 && (src[1]! & 1) === 1) {
    throw new ImageError(
      'unsupported-compression',
      'old-style (pre-TIFF 6.0, LSB-first) LZW is not supported',
    );
  }
  const { starts, lengths } = tables;
  const outLen = out.length;
  let pos = 0;
  let bits = 0;
  let nbits = 0;
  let width = 9;
  let next = 258;
  let prevStart = -1;
  let prevLen = 0;
  let op = 0;
  let mask = 511;
  const srcLen = src.length;
  while (op < outLen) {
    if (nbits < width) {
      if (pos + 1 < srcLen) {
        bits = ((bits << 16) | (src[pos]! << 8) | src[pos + 1]!) >>> 0;
        pos += 2;
        nbits += 16;
      } else {
        if (pos >= srcLen) return op;
        bits = ((bits << 8) | src[pos++]!) >>> 0;
        nbits += 8;
        if (nbits < width) return op;
      }
    }
    nbits -= width;
    const code = (bits >>> nbits) & mask;
    bits &= (1 << nbits) - 1;
    if (code === 257) break;
    if (code === 256) {
      width = 9;
      mask = 511;
      next = 258;
      prevStart = -1;
      continue;
    }
    if (prevStart < 0) {
      if (code > 255)
        throw new ImageError('corrupt-data', `LZW code ${code} follows a clear code (byte ${pos})`);
      out[op] = code;
      prevStart = op++;
      prevLen = 1;
      continue;
    }
    if (code < 256) {
      if (next < 4096) {
        starts[next] = prevStart;
        lengths[next] = prevLen + 1;
        if (++next >= mask && width < 12) mask = (1 << ++width) - 1;
      }
      out[op] = code;
      prevStart = op++;
      prevLen = 1;
      continue;
    }
    let start: number;
    let len: number;
    if (code < next) {
      start = starts[code]!;
      len = lengths[code]!;
    } else if (code === next) {
      start = prevStart;
      len = prevLen + 1;
    } else {
      throw new ImageError('corrupt-data', `LZW code ${code} is beyond the table size ${next} (byte ${pos})`);
    }
    if (next < 4096) {
      starts[next] = prevStart;
      lengths[next] = prevLen + 1;
      if (++next >= mask && width < 12) mask = (1 << ++width) - 1;
    }
    if (len > outLen - op) len = outLen - op;
    if (len > 32 && start + len <= op) {
      out.copyWithin(op, start, start + len);
    } else {
      for (let i = 0; i < len; i++) out[op + i] = out[start + i]!;
    }
    prevStart = op;
    prevLen = len;
    op += len;
  }
  return op;
}

/** Decodes PackBits run-length data into `out` until either runs out; returns the bytes written. */
export function decodePackBits(src: Uint8Array, out: Uint8Array): number {
  let ip = 0;
  let op = 0;
  while (ip < src.length && op < out.length) {
    const n = (src[ip++]! << 24) >> 24;
    if (n >= 0) {
      const end = Math.min(ip + n + 1, src.length);
      const take = Math.min(end - ip, out.length - op);
      out.set(src.subarray(ip, ip + take), op);
      op += take;
      ip = end;
    } else if (n !== -128) {
      if (ip >= src.length) break;
      const end = Math.min(op + 1 - n, out.length);
      out.fill(src[ip++]!, op, end);
      op = end;
    }
  }
  return op;
}

/** Inflates a zlib stream into `out`; returns the bytes written. A damaged stream → 'corrupt-data'. */
export function decodeDeflate(src: Uint8Array, out: Uint8Array, where: string): number {
  try {
    return unzlibSync(src, { out }).length;
  } catch (err) {
    throw new ImageError('corrupt-data', `Deflate data of ${where} is damaged: ${(err as Error).message}`);
  }
}

/** Reverses the byte order of each `size`-byte value in `bytes`, in place. */
export function swapBytes(bytes: Uint8Array, size: number): void {
  const n = bytes.length - (bytes.length % size);
  if (size === 2) {
    for (let i = 0; i < n; i += 2) {
      const t = bytes[i]!;
      bytes[i] = bytes[i + 1]!;
      bytes[i + 1] = t;
    }
  } else if (size === 4) {
    for (let i = 0; i < n; i += 4) {
      const a = bytes[i]!;
      const b = bytes[i + 1]!;
      bytes[i] = bytes[i + 3]!;
      bytes[i + 1] = bytes[i + 2]!;
      bytes[i + 2] = b;
      bytes[i + 3] = a;
    }
  } else if (size === 8) {
    for (let i = 0; i < n; i += 8) bytes.subarray(i, i + 8).reverse();
  }
}

/**
 * Undoes horizontal differencing (predictor 2) in place on host-order samples: each row of `rowSamples`
 * values, where a sample's predecessor is `stride` values earlier (stride = samples per pixel when
 * interleaved). `bytesPerSample` is 1, 2 or 4; sums wrap like the unsigned integer type.
 */
export function undoHorizontalPredictor(
  chunk: Uint8Array,
  rows: number,
  rowSamples: number,
  stride: number,
  bytesPerSample: number,
): void {
  const n = rows * rowSamples;
  const a =
    bytesPerSample === 1
      ? chunk
      : bytesPerSample === 2
        ? new Uint16Array(chunk.buffer, chunk.byteOffset, n)
        : new Uint32Array(chunk.buffer, chunk.byteOffset, n);
  for (let r = 0; r < rows; r++) {
    const end = (r + 1) * rowSamples;
    for (let i = r * rowSamples + stride; i < end; i++) a[i] = a[i]! + a[i - stride]!;
  }
}

/**
 * Undoes the floating-point predictor (predictor 3) in place: per row, byte-wise differencing with the
 * given stride, then the bytes of each value are regathered from their planes (most significant first)
 * into host byte order.
 */
export function undoFloatPredictor(
  chunk: Uint8Array,
  rows: number,
  rowSamples: number,
  stride: number,
  bytesPerSample: number,
): void {
  const rowBytes = rowSamples * bytesPerSample;
  const tmp = new Uint8Array(rowBytes);
  for (let r = 0; r < rows; r++) {
    const row = chunk.subarray(r * rowBytes, (r + 1) * rowBytes);
    for (let i = stride; i < rowBytes; i++) row[i] = row[i]! + row[i - stride]!;
    for (let j = 0; j < bytesPerSample; j++) {
      const dst = HOST_LITTLE_ENDIAN ? bytesPerSample - 1 - j : j;
      const plane = j * rowSamples;
      for (let k = 0; k < rowSamples; k++) tmp[k * bytesPerSample + dst] = row[plane + k]!;
    }
    row.set(tmp);
  }
}
