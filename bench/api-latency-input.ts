/**
 * Pure helpers of api-latency.bench.ts: the 1-Mpx input built from real val images (a grid of equal grey
 * tiles, their dtype kept) and the summary of a few latencies.
 */
import type { RawArray } from '../workers/image/types.js';

/**
 * Lays `tiles` out as a `cols` × `rows` grid, row by row, into one grey image (axes 'YX') of their dtype.
 * Every tile must be grey ('YX'), uint8 or uint16, of one shape and one dtype, and there must be exactly
 * cols × rows of them; else a RangeError says which rule failed.
 */
export function gridImage(tiles: readonly RawArray[], cols: number, rows: number): RawArray {
  if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1)
    throw new RangeError(`gridImage needs whole cols and rows >= 1; got ${cols} x ${rows}`);
  if (tiles.length !== cols * rows)
    throw new RangeError(`gridImage needs ${cols * rows} tiles for ${cols} x ${rows}; got ${tiles.length}`);
  const first = tiles[0]!;
  const [th = 0, tw = 0] = first.shape;
  for (const [i, t] of tiles.entries()) {
    if (t.axes !== 'YX' || t.shape.length !== 2)
      throw new RangeError(`tile ${i} is not grey (axes '${t.axes}', shape [${t.shape.join(', ')}])`);
    if (t.dtype !== 'uint8' && t.dtype !== 'uint16')
      throw new RangeError(`tile ${i} is ${t.dtype}; gridImage takes uint8 or uint16`);
    if (t.dtype !== first.dtype || t.shape[0] !== th || t.shape[1] !== tw)
      throw new RangeError(
        `tile ${i} is ${t.dtype} ${t.shape.join('x')}, tile 0 is ${first.dtype} ${th}x${tw}: all must match`,
      );
  }
  const width = cols * tw;
  const data =
    first.dtype === 'uint8' ? new Uint8Array(width * rows * th) : new Uint16Array(width * rows * th);
  for (const [i, t] of tiles.entries()) {
    const top = Math.floor(i / cols) * th;
    const left = (i % cols) * tw;
    for (let y = 0; y < th; y++) data.set(t.data.subarray(y * tw, (y + 1) * tw), (top + y) * width + left);
  }
  return { data, dtype: first.dtype, shape: [rows * th, width], axes: 'YX' };
}

/** Median, minimum and maximum of a non-empty list (the median of an even count: the mean of the middle two). */
export function summarize(xs: readonly number[]): { median: number; min: number; max: number } {
  if (xs.length === 0) throw new RangeError('summarize needs at least one value');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s.at(-1)! };
}
