import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeTiff } from './tiff-read.js';
import { encodeLabelsTiff, encodeTiff } from './tiff-write.js';
import type { DType, Labels, TypedPixels } from './types.js';
import { ImageError } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'tiff-write-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function save(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

interface TifffileView {
  shape: number[];
  dtype: string;
  axes: string;
  sha256: string;
  description: string;
  resolution: number[];
}

/** Reads a file with tifffile (an independent implementation) and reports shape, dtype, axes, data hash. */
function tifffileRead(path: string): TifffileView {
  const script = [
    'import sys, json, hashlib, tifffile, numpy as np',
    'with tifffile.TiffFile(sys.argv[1]) as t:',
    '    s = t.series[0]; a = s.asarray(); p = t.pages[0]',
    '    r = p.tags.get("XResolution")',
    '    print(json.dumps({"shape": list(a.shape), "dtype": str(a.dtype), "axes": s.axes,',
    '        "sha256": hashlib.sha256(a.astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest(),',
    '        "description": p.description, "resolution": list(r.value) if r else []}))',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tifffile failed on ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout) as TifffileView;
}

/** What the tiffinfo check says when libtiff's command-line tools are not installed. */
const MISSING_TIFFINFO =
  'tiffinfo (libtiff, Debian package libtiff-tools) is not installed, and this test checks our TIFFs with it. ' +
  "Install it with `bash scripts/setup-tests.sh` (README's test command runs it) or `apt-get install -y libtiff-tools`.";

const sha256 = (data: TypedPixels): string =>
  createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');

const ramp = <T extends TypedPixels>(make: (n: number) => T, n: number, f: (i: number) => number): T => {
  const a = make(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
};

describe('encodeTiff', () => {
  const grey: [DType, TypedPixels][] = [
    [
      'uint8',
      ramp(
        (n) => new Uint8Array(n),
        300,
        (i) => i % 256,
      ),
    ],
    [
      'uint16',
      ramp(
        (n) => new Uint16Array(n),
        300,
        (i) => (i * 257 + 3) % 65536,
      ),
    ],
    [
      'int16',
      ramp(
        (n) => new Int16Array(n),
        300,
        (i) => ((i * 257) % 65536) - 32768,
      ),
    ],
    [
      'uint32',
      ramp(
        (n) => new Uint32Array(n),
        300,
        (i) => (i * 16777259) % 2 ** 32,
      ),
    ],
    [
      'float32',
      ramp(
        (n) => new Float32Array(n),
        300,
        (i) => i * 0.37 - 50,
      ),
    ],
    [
      'float64',
      ramp(
        (n) => new Float64Array(n),
        300,
        (i) => i * 0.1 - 3,
      ),
    ],
  ];
  it.each(grey)('%s YX, none and deflate, reads back equal in tifffile and in our decoder', (dtype, data) => {
    for (const compression of ['none', 'deflate'] as const) {
      const bytes = encodeTiff({ data, dtype, shape: [15, 20], axes: 'YX' }, { compression });
      const path = save(`${dtype}-${compression}.tif`, bytes);
      const seen = tifffileRead(path);
      expect(seen.shape).toEqual([15, 20]);
      expect(seen.dtype).toBe(dtype);
      expect(seen.sha256).toBe(sha256(data));
      const back = decodeTiff(bytes);
      expect(back.dtype).toBe(dtype);
      expect(Array.from(back.data)).toEqual(Array.from(data));
    }
  });

  it('YXS (RGB, interleaved) and a ZCYX ImageJ hyperstack keep their layout in tifffile', () => {
    const rgb = ramp(
      (n) => new Uint8Array(n),
      6 * 5 * 3,
      (i) => (i * 7) % 256,
    );
    const rgbPath = save('rgb.tif', encodeTiff({ data: rgb, dtype: 'uint8', shape: [6, 5, 3], axes: 'YXS' }));
    const seenRgb = tifffileRead(rgbPath);
    expect(seenRgb.shape).toEqual([6, 5, 3]);
    expect(seenRgb.sha256).toBe(sha256(rgb));

    const stack = ramp(
      (n) => new Uint16Array(n),
      2 * 3 * 6 * 5,
      (i) => i * 100,
    );
    const bytes = encodeTiff({ data: stack, dtype: 'uint16', shape: [2, 3, 6, 5], axes: 'ZCYX' });
    const seen = tifffileRead(save('zcyx.tif', bytes));
    expect(seen.shape).toEqual([2, 3, 6, 5]);
    expect(seen.axes).toBe('ZCYX');
    expect(seen.sha256).toBe(sha256(stack));
    const back = decodeTiff(bytes);
    expect(back.axes).toBe('ZCYX');
    expect(back.shape).toEqual([2, 3, 6, 5]);
  });

  it('writes a physical pixel size as ImageJ micron resolution', () => {
    const data = new Uint8Array(4 * 4);
    const bytes = encodeTiff({ data, dtype: 'uint8', shape: [4, 4], axes: 'YX', physicalSizeX: 0.65 });
    const seen = tifffileRead(save('res.tif', bytes));
    expect(seen.description).toContain('unit=micron');
    expect(seen.resolution[0]! / seen.resolution[1]!).toBeCloseTo(1 / 0.65, 9);
    expect(decodeTiff(bytes).physicalSizeX).toBeCloseTo(0.65, 9);
  });

  it('uses the caller description when given', () => {
    const bytes = encodeTiff(
      { data: new Uint8Array(4), dtype: 'uint8', shape: [2, 2], axes: 'YX' },
      { description: 'hello' },
    );
    expect(tifffileRead(save('desc.tif', bytes)).description).toBe('hello');
  });

  it('passes tiffinfo (libtiff) without warnings, with SampleFormat set', () => {
    const data = ramp(
      (n) => new Int16Array(n),
      64 * 64,
      (i) => i - 2000,
    );
    const path = save(
      'info.tif',
      encodeTiff({ data, dtype: 'int16', shape: [64, 64], axes: 'YX' }, { compression: 'deflate' }),
    );
    const r = spawnSync('tiffinfo', ['-D', path], { encoding: 'utf8' });
    // issue 23 #1: without libtiff-tools this said only "expected null to be +0"
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new Error(MISSING_TIFFINFO);
    expect(r.error, 'running tiffinfo').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/Image Width: 64 Image Length: 64/);
    expect(r.stdout).toMatch(/Bits\/Sample: 16/);
    expect(r.stdout).toMatch(/Sample Format: signed integer/);
    expect(r.stdout).toMatch(/Compression Scheme: AdobeDeflate/);
  });

  it('refuses arrays it cannot write, naming the shape', () => {
    const data = new Uint8Array(6);
    const call =
      (shape: number[], axes: string, d: TypedPixels = data) =>
      () =>
        encodeTiff({ data: d, dtype: 'uint8', shape, axes });
    expect(call([2, 3], 'XY')).toThrowError(/axes ending in YX or YXS, got axes 'XY'/);
    expect(call([2, 3], 'YXS')).toThrowError(ImageError);
    expect(call([2, 1, 3, 1], 'CZYX')).toThrowError(/T, Z, C order \(or Q\), got axes 'CZYX'/);
    expect(call([2, 4], 'YX')).toThrowError(/needs 8 values, data has 6/);
    expect(call([0, 4], 'YX', new Uint8Array(0))).toThrowError(/cannot encode/);
  });
});

describe('encodeLabelsTiff', () => {
  it('writes uint16 when the largest label fits, read back equal by tifffile', () => {
    const labels: Labels = {
      data: ramp(
        (n) => new Uint32Array(n),
        30 * 40,
        (i) => (i * 13) % 65536,
      ),
      height: 30,
      width: 40,
    };
    const path = save('labels16.tif', encodeLabelsTiff(labels));
    const seen = tifffileRead(path);
    expect(seen.dtype).toBe('uint16');
    expect(seen.shape).toEqual([30, 40]);
    expect(seen.sha256).toBe(sha256(Uint16Array.from(labels.data)));
  });

  it('writes uint32 for more than 65535 objects, read back equal by tifffile and by us', () => {
    const labels: Labels = {
      data: ramp(
        (n) => new Uint32Array(n),
        300 * 301,
        (i) => i + 1,
      ),
      height: 300,
      width: 301,
    };
    const bytes = encodeLabelsTiff(labels);
    const seen = tifffileRead(save('labels32.tif', bytes));
    expect(seen.dtype).toBe('uint32');
    expect(seen.sha256).toBe(sha256(labels.data));
    expect(Array.from(decodeTiff(bytes).data)).toEqual(Array.from(labels.data));
  });

  it("labels whose data does not match height x width → 'shape-mismatch'", () => {
    expect(() => encodeLabelsTiff({ data: new Uint32Array(5), height: 2, width: 2 })).toThrowError(
      /2x2 but hold 5/,
    );
  });
});
