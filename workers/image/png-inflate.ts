/**
 * Inflating a PNG's image data (IDAT) with a bound: it stops as soon as the data outgrows what the header
 * implies, so a deflate bomb cannot grow without limit. Also the scanline byte count, Adam7 included.
 */
import { Unzlib } from 'fflate';
import { ImageError } from './types.js';

/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
] as const; // prettier-ignore

/** Inflated bytes a PNG may hold beyond its scanlines before it counts as a bomb (sloppy encoders pad). */
const INFLATE_SLACK = 1 << 16;
const INFLATE_STEP = 1 << 12;

/** Bytes of the filtered scanlines (a filter byte per row) of a width x height image, Adam7 or not. */
export function scanlineBytes(width: number, height: number, bitsPerPixel: number, adam7: boolean): number {
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
export function inflateScanlines(
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
