/**
 * The real files the decoder fuzzing starts from (tests and bench only): every TIFF in test/fixtures/tiff
 * (all sample types, strips and tiles, every compression we read and a few we refuse, OME and ImageJ
 * stacks, BigTIFF), val images of the nuclei set and small PNGs of every colour type, bit depth and
 * interlacing, and zips of those made by our packZip and by fflate (stored, deflated, folders, skipped
 * entries).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { encode } from 'fast-png';
import { NUCLEI_VAL } from '../../test/data.js';
import type { Format } from './fuzz-harness.js';
import { packZip } from './zip.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TIFF_DIR = join(repoRoot, 'test', 'fixtures', 'tiff');
const VAL_STEMS = ['dsb_03398329ced0c23b', 'dsb_077f026f4ab0f0bc'];

const read = (path: string) => new Uint8Array(readFileSync(path));

export function tiffFiles(): Uint8Array[] {
  return readdirSync(TIFF_DIR)
    .filter((f) => f.endsWith('.tif'))
    .sort()
    .map((f) => read(join(TIFF_DIR, f)));
}

/** A smooth-ish test pattern of `n` values below `max`. */
function pattern(n: number, max: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 37 + ((i * i) >> 3)) % max);
}

export function pngFiles(): Uint8Array[] {
  const val = VAL_STEMS.flatMap((s) => [`${s}.image.png`, `${s}.labels.png`])
    .map((f) => join(NUCLEI_VAL, f))
    .filter((p) => existsSync(p))
    .map(read);
  const w = 23;
  const h = 17;
  const made = [
    encode({ width: w, height: h, data: Uint8Array.from(pattern(w * h * 3, 256)), channels: 3, depth: 8 }),
    encode({ width: w, height: h, data: Uint16Array.from(pattern(w * h * 4, 65536)), channels: 4, depth: 16 }),
    encode({ width: w, height: h, data: Uint8Array.from(pattern(w * h * 2, 256)), channels: 2, depth: 8 }),
    encode({
      width: w,
      height: h,
      data: Uint8Array.from(pattern(w * h, 5)),
      channels: 1,
      depth: 8,
      palette: [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]],
    }),
    encode({
      width: w,
      height: h,
      data: Uint8Array.from(pattern(w * h, 3)),
      channels: 1,
      depth: 8,
      palette: [[0, 0, 0, 0], [255, 0, 0, 128], [0, 255, 0, 255]],
    }),
    ...[1, 2, 4].map((depth) =>
      encode({
        width: w,
        height: h,
        data: Uint8Array.from(pattern(Math.ceil((w * depth) / 8) * h, 256)),
        channels: 1,
        depth: depth as 1 | 2 | 4,
      }),
    ),
    encode({ width: w, height: h, data: Uint8Array.from(pattern(w * h, 256)), channels: 1, depth: 8 }, { interlace: 'Adam7' }),
    encode({ width: w, height: h, data: Uint16Array.from(pattern(w * h * 3, 65536)), channels: 3, depth: 16 }, { interlace: 'Adam7' }),
  ]; // prettier-ignore
  return [...val, ...made];
}

export function zipFiles(): Uint8Array[] {
  const tiffs = tiffFiles();
  const pngs = pngFiles();
  const text = new TextEncoder().encode('a text file, a text file, a text file');
  return [
    packZip([
      { name: 'a.png', data: pngs.at(-1)! },
      { name: 'plate/b.tif', data: tiffs[0]! },
      { name: 'plate/c.txt', data: text },
    ]),
    zipSync({ 'x.tif': tiffs[1]!, 'dir/': new Uint8Array(0), 'dir/y.png': pngs.at(-2)! }, { level: 0 }),
    zipSync({ 'z.tif': tiffs[2]!, '__MACOSX/._z.tif': text, '.hidden': text, 'w.txt': text }, { level: 9 }),
  ];
}

/** The real files for one format's fuzzing. */
export function fuzzFiles(format: Format): Uint8Array[] {
  return format === 'tiff' ? tiffFiles() : format === 'png' ? pngFiles() : zipFiles();
}
