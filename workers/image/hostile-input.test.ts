/**
 * Hand-made hostile files, one per way a decoder could be made to hang, to allocate for a size a header
 * merely claims, or to throw something other than ImageError. Each was a real bug (found by the fuzzer or
 * by reading the decoders against it); the largest buffer each case allocates is measured with the fuzz
 * harness' tracker, installed before the decoders load.
 */
import { describe, expect, it } from 'vitest';
import { runCase, trackAllocations } from './fuzz-harness.js';
import { craftTiff, expectError } from './test-helpers.js';

trackAllocations();
const { deflateSync, zipSync, zlibSync } = await import('fflate');
const { encode } = await import('fast-png');
const { decodeImage, inspectImage } = await import('./decode.js');
const { decodePng } = await import('./png.js');
const { decodeTiff, readTiffLayout } = await import('./tiff-read.js');
const { unpackZip } = await import('./zip.js');

const MiB = 2 ** 20;

/** A 1x1 uint8 strip TIFF with extra `entries` (tag, type, values) replacing or adding to the basic ones. */
function tinyTiff(extra: [number, number, number[] | string][] = []) {
  const base = new Map<number, [number, number, number[] | string]>([
    [256, [256, 3, [1]]],
    [257, [257, 3, [1]]],
    [258, [258, 3, [8]]],
    [273, [273, 4, [8]]],
    [279, [279, 4, [1]]],
  ]);
  for (const e of extra) base.set(e[0], e);
  return craftTiff([[...base.values()]]);
}

/** PNG chunk bytes (CRC left 0: the decoder does not check it). */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  new DataView(out.buffer).setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const x of parts) {
    out.set(x, p);
    p += x.length;
  }
  return out;
};

/** The data of the first chunk of `type` in a PNG. */
function chunkData(png: Uint8Array, type: string): Uint8Array {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (let p = 8; p + 8 <= png.length; p += 12 + v.getUint32(p)) {
    if (String.fromCharCode(...png.subarray(p + 4, p + 8)) === type)
      return png.subarray(p + 8, p + 8 + v.getUint32(p));
  }
  throw new Error(`no ${type} chunk`);
}

/** A PNG whose signature and IHDR come from `header`, with `chunks` after them and IEND. */
const pngWith = (header: Uint8Array, ...chunks: Uint8Array[]) =>
  concat(header.subarray(0, 33), ...chunks, chunk('IEND', new Uint8Array(0)));

describe('TIFF', () => {
  it('refuses thousands of huge tiles for a 1x1 image before decoding any (was ~100 s of zero-filling)', () => {
    const n = 65_535;
    const tiff = craftTiff([
      [
        [256, 3, [1]], [257, 3, [1]], [258, 3, [8]], [277, 3, [n]], [284, 3, [2]], [322, 3, [2048]],
        [323, 3, [2048]], [324, 4, new Array<number>(n).fill(8)], [325, 4, new Array<number>(n).fill(0)],
      ],
    ]); // prettier-ignore
    const r = runCase(
      () => expectError(() => decodeTiff(tiff), 'corrupt-data', /65535 2048x2048 tiles covering/),
      tiff,
    );
    expect(r.outcome).toBe('decoded');
    expect(r.largestAllocation).toBeLessThan(16 * MiB);
  });

  it('refuses more IFDs than maxFrames (default 10,000) without reading the rest of the chain', () => {
    const pages = (n: number) => Array.from({ length: n }, () => [[256, 3, [1]], [257, 3, [1]], [258, 3, [8]], [273, 4, [8]], [279, 4, [1]]] as const);
    const three = craftTiff(pages(3));
    expect(decodeTiff(three, { maxFrames: 3 }).shape).toEqual([3, 1, 1]);
    expectError(() => decodeTiff(three, { maxFrames: 2 }), 'too-many-frames', /more than 2 pages \(IFDs\), the limit/);
    expectError(() => decodeImage(craftTiff(pages(10_001))), 'too-many-frames', /^image: TIFF has more than 10000 pages/);
  }); // prettier-ignore

  it('refuses IFDs that overlap (a chain that re-reads the same bytes is work the file did not pay for)', () => {
    // IFD 1 starts 2 bytes into IFD 0, so its entry count is IFD 0's first tag (256): 3,072 bytes of entries
    // that are mostly IFD 0 again. The two IFDs list more entry bytes than the file has.
    const tiff = tinyTiff();
    const ifd0 = new DataView(tiff.buffer).getUint32(4, true);
    const file = new Uint8Array(ifd0 + 4 + 256 * 12 + 4);
    file.set(tiff);
    new DataView(file.buffer).setUint32(ifd0 + 2 + 5 * 12, ifd0 + 2, true);
    expectError(() => decodeTiff(file), 'corrupt-data', /TIFF IFDs overlap: 2 IFDs list 3144 bytes of entries in a 3088-byte file/);
  }); // prettier-ignore

  it('refuses a width, height or rows per strip that is not a whole number (was a RangeError)', () => {
    expectError(() => decodeTiff(tinyTiff([[256, 12, [1.5]]])), 'corrupt-data', /width is 1.5/);
    expectError(() => decodeTiff(tinyTiff([[257, 5, [1, 0]]])), 'corrupt-data', /height is Infinity/);
    expectError(() => decodeTiff(tinyTiff([[278, 9, [-1]]])), 'corrupt-data', /RowsPerStrip is -1/);
  });

  it('reads OME attributes in linear time (a 1 MB attribute run took minutes) and ignores a unit named __proto__', () => {
    const long = '<OME><Pixels ' + 'a'.repeat(1_000_000) + ' DimensionOrder="XYCZT" SizeC="1">';
    expect(decodeTiff(tinyTiff([[270, 2, long]])).shape).toEqual([1, 1]);
    const noClose = '<OME>' + '<Pixels '.repeat(125_000);
    expectError(
      () => decodeTiff(tinyTiff([[270, 2, noClose]])),
      'bad-dimension-order',
      /no <Pixels> element/,
    );
    const proto = '<OME><Pixels DimensionOrder="XYCZT" PhysicalSizeX="0.5" PhysicalSizeXUnit="__proto__">';
    expect(decodeTiff(tinyTiff([[270, 2, proto]])).physicalSizeX).toBeUndefined();
    const um = '<OME><Pixels DimensionOrder="XYCZT" PhysicalSizeX="0.5" PhysicalSizeXUnit="nm">';
    expect(decodeTiff(tinyTiff([[270, 2, um]])).physicalSizeX).toBeCloseTo(0.0005);
  });

  it('readTiffLayout gives the shape without reading pixels: a TIFF whose strips lie past the end still lays out', () => {
    const past = tinyTiff([[273, 4, [10_000]]]);
    expect(readTiffLayout(past).shape).toEqual([1, 1]);
    expectError(() => decodeTiff(past), 'truncated', /strip 0 of TIFF page 0/);
    expect(inspectImage(past)).toEqual({ format: 'tiff', dtype: 'uint8', shape: [1, 1], axes: 'YX' });
  });
});

describe('PNG', () => {
  const tiny = encode({ width: 1, height: 1, data: new Uint8Array([7]), channels: 1, depth: 8 });

  it('stops inflating image data past what the header implies (a 64 KB bomb grew to 64 MB)', () => {
    const bomb = pngWith(tiny, chunk('IDAT', zlibSync(new Uint8Array(64 * MiB), { level: 9 })));
    const r = runCase(() => decodePng(bomb), bomb);
    expect(r.outcome).toBe('typed');
    expect((r.error as Error).message).toBe(
      'PNG image data inflates past the 2 bytes its header implies (a deflate bomb?)',
    );
    expect(r.largestAllocation).toBeLessThanOrEqual(8 * MiB); // what one 4 KiB step of input can inflate to
  });

  it('never inflates an ancillary chunk (an iCCP profile bomb) and still decodes the image', () => {
    const profile = concat(
      new TextEncoder().encode('icc\0\0'),
      zlibSync(new Uint8Array(64 * MiB), { level: 9 }),
    );
    const idatAt = 33;
    const withIcc = concat(tiny.subarray(0, idatAt), chunk('iCCP', profile), tiny.subarray(idatAt));
    const r = runCase(() => expect(Array.from(decodePng(withIcc).data)).toEqual([7]), withIcc);
    expect(r.outcome).toBe('decoded');
    expect(r.largestAllocation).toBeLessThan(8 * MiB);
  });

  it('refuses palette indices past the palette with an ImageError (was a plain Error from fast-png)', () => {
    const indexed = encode({
      width: 2,
      height: 1,
      data: new Uint8Array([0, 1]),
      channels: 1,
      depth: 8,
      palette: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    });
    const idat = chunkData(indexed, 'IDAT');
    const oneColour = pngWith(indexed, chunk('PLTE', new Uint8Array([1, 2, 3])), chunk('IDAT', idat));
    expectError(
      () => decodePng(oneColour),
      'corrupt-data',
      /PNG data is damaged: Incorrect index of palette color/,
    );
    const twoColours = pngWith(
      indexed,
      chunk('PLTE', new Uint8Array([1, 2, 3, 4, 5, 6])),
      chunk('IDAT', idat),
    );
    expect(Array.from(decodePng(twoColours).data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses a bit depth the colour type cannot have, and image data that ends short', () => {
    const rgb1 = tiny.slice();
    rgb1[24] = 1;
    rgb1[25] = 2; // RGB at 1 bit per sample
    expectError(() => decodePng(rgb1), 'unsupported-format', /color type 2 cannot have bit depth 1/);
    const short = pngWith(tiny, chunk('IDAT', zlibSync(new Uint8Array(1))));
    expectError(() => decodePng(short), 'truncated', /holds 1 of the 2 bytes/);
    const damaged = pngWith(tiny, chunk('IDAT', new Uint8Array([0x78, 0x9c, 0xff, 0xff, 0xff])));
    expectError(() => decodePng(damaged), 'corrupt-data', /damaged/);
  });
});

describe('zip', () => {
  it('allocates for the bytes an entry really inflates to, not for the size its header claims', () => {
    const zip = zipSync({ 'a.tif': new Uint8Array(3 * MiB) }, { level: 9 });
    const v = new DataView(zip.buffer);
    const cd = v.getUint32(zip.length - 22 + 16, true);
    const csize = v.getUint32(cd + 20, true);
    v.setUint32(cd + 24, csize * 1090, true); // claims 1090x its compressed size (under the ratio limit)
    const r = runCase(() => unpackZip(zip, { maxTotalBytes: 2 ** 32 }), zip);
    expect(r.outcome).toBe('typed');
    expect((r.error as Error).message).toMatch(/holds 3145728 bytes, its header says/);
    expect(r.largestAllocation).toBeLessThan(8 * MiB);
    expect(csize * 1090).toBeGreaterThan(3 * MiB);
  });

  it('still unpacks a large honest entry exactly', () => {
    const data = deflateSync(new Uint8Array(10)); // any bytes
    const big = new Uint8Array(5 * MiB).map((_, i) => (i * 7) & 0xff);
    const [e] = unpackZip(zipSync({ 'big.raw': big, 'd.raw': data }));
    expect(Buffer.compare(e!.data, big)).toBe(0);
  });
});
