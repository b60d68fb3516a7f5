import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectError } from './test-helpers.js';
import { decodeTiff } from './tiff-read.js';
import { encodeTiff } from './tiff-write.js';
import type { DType } from './types.js';
import { ImageError } from './types.js';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/tiff');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, name)));

/** The formula of test/fixtures/make-tiff-fixtures.py, over `shape` with named `axes`, row-major. */
function expected(dtype: DType, shape: number[], axes: string): number[] {
  const weights: Record<string, number> = { X: 1, Y: 16, C: 200, S: 200, Z: 500, T: 1000 };
  const total = shape.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let i = 0; i < total; i++) {
    let rest = i;
    let base = 0;
    for (let d = shape.length - 1; d >= 0; d--) {
      base += (rest % shape[d]!) * weights[axes[d]!]!;
      rest = Math.floor(rest / shape[d]!);
    }
    const u16 = (base * 257 + 3) % 65536;
    const u32 = (base * 16777259) % 2 ** 32;
    const value: Record<DType, number> = {
      uint8: base % 256, int8: (base % 256) - 128, uint16: u16, int16: u16 - 32768, uint32: u32,
      int32: u32 - 2 ** 31, float32: Math.fround(base * 0.25 - 100), float64: base * 0.1 - 3,
    }; // prettier-ignore
    out.push(value[dtype]);
  }
  return out;
}

describe('decodeTiff on files written by tifffile and libtiff', () => {
  const cases: [file: string, dtype: DType, shape: number[], axes: string][] = [
    ['uint8.tif', 'uint8', [12, 16], 'YX'],
    ['int8.tif', 'int8', [12, 16], 'YX'],
    ['uint16.tif', 'uint16', [12, 16], 'YX'],
    ['int16.tif', 'int16', [12, 16], 'YX'],
    ['uint32.tif', 'uint32', [12, 16], 'YX'],
    ['int32.tif', 'int32', [12, 16], 'YX'],
    ['float32.tif', 'float32', [12, 16], 'YX'],
    ['float64.tif', 'float64', [12, 16], 'YX'],
    ['uint16-be.tif', 'uint16', [12, 16], 'YX'],
    ['float32-be.tif', 'float32', [12, 16], 'YX'],
    ['uint16-bigtiff.tif', 'uint16', [12, 16], 'YX'],
    ['uint16-bigtiff-be.tif', 'uint16', [12, 16], 'YX'],
    ['uint16-deflate.tif', 'uint16', [12, 16], 'YX'],
    ['uint16-deflate-pred2-strips.tif', 'uint16', [12, 16], 'YX'],
    ['int16-deflate-pred2-be.tif', 'int16', [12, 16], 'YX'],
    ['uint16-lzw.tif', 'uint16', [12, 16], 'YX'],
    ['uint16-lzw-pred2.tif', 'uint16', [12, 16], 'YX'],
    ['uint16-lzw-pred2-be.tif', 'uint16', [12, 16], 'YX'],
    ['uint16-packbits.tif', 'uint16', [12, 16], 'YX'],
    ['float32-deflate-pred3.tif', 'float32', [12, 16], 'YX'],
    ['float32-deflate-pred3-be.tif', 'float32', [12, 16], 'YX'],
    ['float64-deflate-pred3.tif', 'float64', [12, 16], 'YX'],
    ['uint16-tiled-40x36.tif', 'uint16', [36, 40], 'YX'],
    ['uint16-tiled-lzw-40x36.tif', 'uint16', [36, 40], 'YX'],
    ['uint8-tiled-deflate-40x36.tif', 'uint8', [36, 40], 'YX'],
    ['rgb-interleaved.tif', 'uint8', [12, 16, 3], 'YXS'],
    ['rgb-planar.tif', 'uint8', [3, 12, 16], 'CYX'],
    ['rgb16-planar-deflate.tif', 'uint16', [3, 12, 16], 'CYX'],
    ['stack-3pages.tif', 'uint8', [3, 12, 16], 'QYX'],
    ['ome-zcyx-nm.tif', 'uint16', [2, 3, 12, 16], 'ZCYX'],
    ['ome-tcyx-um.tif', 'float32', [2, 3, 12, 16], 'TCYX'],
    ['ome-cyx-um.tif', 'uint8', [3, 12, 16], 'CYX'],
    ['imagej-tzcyx.tif', 'uint16', [2, 3, 2, 12, 16], 'TZCYX'],
    ['ome-rgb-planar-2pages.tif', 'uint8', [6, 12, 16], 'CYX'],
  ];
  it.each(cases)('%s → %s %j %s with the formula values', (file, dtype, shape, axes) => {
    const raw = decodeTiff(fixture(file));
    expect(raw.dtype).toBe(dtype);
    expect(raw.shape).toEqual(shape);
    expect(raw.axes).toBe(axes);
    // The stack fixture's pages follow the formula with z = page index.
    expect(Array.from(raw.data)).toEqual(expected(dtype, shape, axes.replace('Q', 'Z')));
  });

  it('decodes a 64x64 LZW strip long enough for 12-bit codes and a table reset', () => {
    const raw = decodeTiff(fixture('uint16-lzw-64x64.tif'));
    const plain = expected('uint32', [64, 64], 'YX').map((v) => v % 65536);
    expect(Array.from(raw.data)).toEqual(plain);
  });

  it('converts OME PhysicalSizeX/Y to µm from nm and keeps µm', () => {
    const nm = decodeTiff(fixture('ome-zcyx-nm.tif'));
    expect(nm.physicalSizeX).toBeCloseTo(0.65, 12);
    expect(nm.physicalSizeY).toBeCloseTo(0.7, 12);
    expect(decodeTiff(fixture('ome-tcyx-um.tif')).physicalSizeX).toBe(0.5);
    expect(decodeTiff(fixture('ome-cyx-um.tif')).physicalSizeX).toBe(0.325);
  });

  it('reads the ImageJ pixel size from the resolution tags and unit=um', () => {
    const raw = decodeTiff(fixture('imagej-tzcyx.tif'));
    expect(raw.physicalSizeX).toBe(0.25);
    expect(raw.physicalSizeY).toBe(0.25);
  });

  it('states no pixel size when the file has none', () => {
    expect(decodeTiff(fixture('uint16.tif')).physicalSizeX).toBeUndefined();
  });
});

/** A small valid TIFF from our encoder, for patching header fields. */
function smallTiff(): Uint8Array {
  const data = Uint16Array.from({ length: 12 * 16 }, (_, i) => i);
  return encodeTiff({ data, dtype: 'uint16', shape: [12, 16], axes: 'YX' });
}

/** Overwrites the value of `tag` in IFD `page` (default 0) of a little-endian classic TIFF (count-1 SHORT/LONG). */
function patchTag(
  bytes: Uint8Array,
  tag: number,
  value: number,
  type?: number,
  count?: number,
  page = 0,
): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  let ifd = v.getUint32(4, true);
  for (let p = 0; p < page; p++) ifd = v.getUint32(ifd + 2 + v.getUint16(ifd, true) * 12, true);
  const n = v.getUint16(ifd, true);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (v.getUint16(e, true) !== tag) continue;
    if (type !== undefined) v.setUint16(e + 2, type, true);
    if (count !== undefined) v.setUint32(e + 4, count, true);
    if (v.getUint16(e + 2, true) === 3) v.setUint16(e + 8, value, true);
    else v.setUint32(e + 8, value, true);
    return out;
  }
  throw new Error(`tag ${tag} not in the test file`);
}

describe('decodeTiff refuses bad input with typed errors', () => {
  it('every cut of a valid file yields an ImageError, never a RangeError or a hang', () => {
    for (const name of [
      'uint16-deflate-pred2-strips.tif',
      'uint16-tiled-lzw-40x36.tif',
      'ome-zcyx-nm.tif',
      'uint16-bigtiff-be.tif',
    ]) {
      const whole = fixture(name);
      for (let cut = 0; cut < whole.length; cut += Math.max(1, Math.floor(whole.length / 97))) {
        let error: unknown;
        try {
          decodeTiff(whole.subarray(0, cut));
        } catch (err) {
          error = err;
        }
        expect(error, `${name} cut at ${cut}`).toBeInstanceOf(ImageError);
        expect(['truncated', 'corrupt-data', 'not-an-image']).toContain((error as ImageError).code);
      }
    }
  });

  it("a strip that runs past the end of the file → 'truncated' naming the strip", () => {
    const whole = fixture('uint16-deflate.tif');
    expectError(() => decodeTiff(whole.subarray(0, 200)), 'truncated', /ends at byte 200|strip 0/);
    const ours = smallTiff();
    expectError(
      () => decodeTiff(patchTag(ours, 273, ours.length - 10)),
      'truncated',
      /strip 0 of TIFF page 0/,
    );
  });

  it("JPEG compression → 'unsupported-compression' naming number and name", () => {
    expectError(
      () => decodeTiff(fixture('jpeg-rgb.tif')),
      'unsupported-compression',
      /compression 7 \(JPEG\)/,
    );
    expectError(
      () => decodeTiff(patchTag(smallTiff(), 259, 50000)),
      'unsupported-compression',
      /50000 \(Zstandard\)/,
    );
  });

  it("unsupported sample types → 'unsupported-dtype'", () => {
    expectError(() => decodeTiff(fixture('bilevel.tif')), 'unsupported-dtype', /1-bit/);
    expectError(() => decodeTiff(fixture('int64.tif')), 'unsupported-dtype', /64-bit signed integer/);
    expectError(() => decodeTiff(fixture('complex64.tif')), 'unsupported-dtype', /complex/);
    expectError(() => decodeTiff(patchTag(smallTiff(), 258, 24)), 'unsupported-dtype', /24-bit unsigned/);
  });

  it("mixed bit depths per sample → 'unsupported-dtype' listing them", () => {
    const rgb = encodeTiff({
      data: new Uint8Array(4 * 4 * 3),
      dtype: 'uint8',
      shape: [4, 4, 3],
      axes: 'YXS',
    });
    // BitsPerSample [8, 8, 8] is stored out of line; make the last value 16.
    const v = new DataView(rgb.buffer);
    const ifd = v.getUint32(4, true);
    for (let i = 0; i < v.getUint16(ifd, true); i++) {
      const e = ifd + 2 + i * 12;
      if (v.getUint16(e, true) === 258) v.setUint16(v.getUint32(e + 8, true) + 4, 16, true);
    }
    expectError(() => decodeTiff(rgb), 'unsupported-dtype', /BitsPerSample \[8, 8, 16\]/);
  });

  it("width or height 0 → 'empty-image'", () => {
    expectError(() => decodeTiff(patchTag(smallTiff(), 256, 0)), 'empty-image', /0x12 pixels/);
    expectError(() => decodeTiff(patchTag(smallTiff(), 257, 0)), 'empty-image', /16x0 pixels/);
  });

  it("bad magic → 'not-an-image'", () => {
    expectError(
      () => decodeTiff(new TextEncoder().encode('hello world, not a tiff')),
      'not-an-image',
      /byte-order mark/,
    );
    const bad = smallTiff();
    bad[2] = 41;
    expectError(() => decodeTiff(bad), 'not-an-image', /version 41/);
  });

  it("too many pixels → 'too-many-pixels' before allocating, even for a huge declared size", () => {
    expectError(() => decodeTiff(smallTiff(), { maxPixels: 100 }), 'too-many-pixels', /16x12x1 = 192 values/);
    const huge = patchTag(patchTag(smallTiff(), 256, 2 ** 31), 257, 2 ** 31);
    expectError(() => decodeTiff(huge), 'too-many-pixels', /over the limit of 268435456/);
    expectError(
      () => decodeTiff(fixture('imagej-tzcyx.tif'), { maxPixels: 2000 }),
      'too-many-pixels',
      /12 page/,
    );
  });

  it("an IFD chain that loops → 'corrupt-data', no hang", () => {
    const loop = smallTiff();
    const v = new DataView(loop.buffer);
    const ifd = v.getUint32(4, true);
    v.setUint32(ifd + 2 + v.getUint16(ifd, true) * 12, ifd, true);
    expectError(() => decodeTiff(loop), 'corrupt-data', /loops back to offset/);
  });

  it("a tag whose values lie past the end of the file → 'truncated' naming the tag", () => {
    const bad = patchTag(smallTiff(), 279, 999_999, 4, 50_000);
    expectError(() => decodeTiff(bad), 'truncated', /tag 279/);
  });

  it("damaged compressed data → 'corrupt-data' naming the strip", () => {
    const file = fixture('uint16-deflate.tif').slice();
    const v = new DataView(file.buffer);
    const ifd = v.getUint32(4, true);
    let offset = 0;
    for (let i = 0; i < v.getUint16(ifd, true); i++) {
      const e = ifd + 2 + i * 12;
      if (v.getUint16(e, true) === 273) offset = v.getUint32(e + 8, true);
    }
    file.fill(0xff, offset + 2, offset + 40);
    expectError(() => decodeTiff(file), 'corrupt-data', /strip 0 of TIFF page 0/);
  });

  it("a predictor that does not fit the sample type → 'unsupported-compression'", () => {
    expectError(
      () => decodeTiff(patchTag(fixture('uint16-lzw-pred2.tif'), 317, 3)),
      'unsupported-compression',
      /predictor 3 with uint16/,
    );
  });

  it("missing strip offsets → 'corrupt-data'", () => {
    expectError(
      () => decodeTiff(patchTag(smallTiff(), 278, 1)),
      'corrupt-data',
      /needs 12 strip offsets, has 1/,
    );
  });

  it("pages of different shapes or a planar layout that cannot be named → 'unsupported-format'", () => {
    const stack = encodeTiff({
      data: new Uint8Array(2 * 4 * 5),
      dtype: 'uint8',
      shape: [2, 4, 5],
      axes: 'ZYX',
    });
    expectError(
      () => decodeTiff(patchTag(stack, 257, 2, undefined, undefined, 1)),
      'unsupported-format',
      /page 1 is 5x2x1, page 0 is 5x4x1/,
    );
    expectError(
      () => decodeTiff(fixture('ome-planar-czs.tif')),
      'unsupported-format',
      /page axes 'CZ': C is not the fastest/,
    );
  });

  it("tiles far larger than the image → 'corrupt-data' before any allocation", () => {
    const tiled = fixture('uint16-tiled-40x36.tif');
    expectError(
      () => decodeTiff(patchTag(patchTag(tiled, 322, 65536), 323, 65536)),
      'corrupt-data',
      /65536x65536 tiles/,
    );
  });

  it('a strip with byte count 0 decodes as zeros (sparse files)', () => {
    const raw = decodeTiff(patchTag(smallTiff(), 279, 0));
    expect(raw.data.every((x) => x === 0)).toBe(true);
  });
});
