/**
 * Undoing the PNG row filters (PNG spec §9.2: None, Sub, Up, Average, Paeth) of a non-interlaced image whose
 * inflated scanlines arrive as a list of chunks (fflate's streaming output), rows crossing chunk boundaries.
 */

/**
 * Unfilters `height` scanlines of `rowBytes` bytes each, every one preceded by its filter-type byte, read in
 * order from `chunks` (which must hold at least height × (1 + rowBytes) bytes; more is ignored).
 * `bytesPerPixel` is the filter's pixel distance: bytes per complete pixel, rounded up to 1 for bit depths
 * below 8. Returns the height × rowBytes raw bytes; throws a plain Error `Unsupported filter: N` (fast-png's
 * wording) at the first row whose filter byte is not 0..4.
 */
export function unfilterScanlines(
  chunks: readonly Uint8Array[],
  height: number,
  rowBytes: number,
  bytesPerPixel: number,
): Uint8Array {
  const out = new Uint8Array(height * rowBytes);
  const lineBytes = rowBytes + 1;
  const scratch = new Uint8Array(lineBytes);
  let ci = 0;
  let co = 0;
  for (let y = 0; y < height; y++) {
    // The filtered row: a view of the current chunk, or a copy when it crosses into the next ones.
    let line: Uint8Array;
    let at: number;
    while (ci < chunks.length && co === chunks[ci]!.length) {
      ci++;
      co = 0;
    }
    const chunk = chunks[ci];
    if (chunk && co + lineBytes <= chunk.length) {
      line = chunk;
      at = co;
      co += lineBytes;
    } else {
      for (let filled = 0; filled < lineBytes;) {
        const c = chunks[ci];
        if (!c) throw new Error(`PNG scanlines end inside row ${y}`);
        const n = Math.min(lineBytes - filled, c.length - co);
        scratch.set(c.subarray(co, co + n), filled);
        filled += n;
        co += n;
        if (co === c.length) {
          ci++;
          co = 0;
        }
      }
      line = scratch;
      at = 0;
    }
    unfilterRow(line[at]!, line, at + 1, out, y * rowBytes, y > 0, rowBytes, bytesPerPixel);
  }
  return out;
}

/**
 * Unfilters one row: `line[src .. src + rowBytes)` filtered with `filter` → `out[o .. o + rowBytes)`, the
 * previous (already unfiltered) row being `out[o - rowBytes .. o)` when `hasPrev` (the first row's is zeros).
 * Uint8Array stores wrap modulo 256, as the spec's arithmetic does.
 */
export function unfilterRow(
  filter: number,
  line: Uint8Array,
  src: number,
  out: Uint8Array,
  o: number,
  hasPrev: boolean,
  rowBytes: number,
  bpp: number,
): void {
  const p = o - rowBytes;
  const first = Math.min(bpp, rowBytes);
  let i = 0;
  switch (filter) {
    case 0:
      out.set(line.subarray(src, src + rowBytes), o);
      return;
    case 1:
      for (; i < first; i++) out[o + i] = line[src + i]!;
      for (; i < rowBytes; i++) out[o + i] = line[src + i]! + out[o + i - bpp]!;
      return;
    case 2:
      if (!hasPrev) out.set(line.subarray(src, src + rowBytes), o);
      else for (; i < rowBytes; i++) out[o + i] = line[src + i]! + out[p + i]!;
      return;
    case 3:
      if (!hasPrev) {
        for (; i < first; i++) out[o + i] = line[src + i]!;
        for (; i < rowBytes; i++) out[o + i] = line[src + i]! + (out[o + i - bpp]! >> 1);
      } else {
        for (; i < first; i++) out[o + i] = line[src + i]! + (out[p + i]! >> 1);
        for (; i < rowBytes; i++) out[o + i] = line[src + i]! + ((out[o + i - bpp]! + out[p + i]!) >> 1);
      }
      return;
    case 4:
      if (!hasPrev) {
        // Paeth with an all-zero row above predicts the left byte: Sub.
        for (; i < first; i++) out[o + i] = line[src + i]!;
        for (; i < rowBytes; i++) out[o + i] = line[src + i]! + out[o + i - bpp]!;
      } else {
        for (; i < first; i++) out[o + i] = line[src + i]! + out[p + i]!;
        for (; i < rowBytes; i++) {
          const a = out[o + i - bpp]!;
          const b = out[p + i]!;
          const c = out[p + i - bpp]!;
          const pa = Math.abs(b - c);
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + b - 2 * c);
          out[o + i] = line[src + i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
      }
      return;
    default:
      throw new Error(`Unsupported filter: ${filter}`);
  }
}
