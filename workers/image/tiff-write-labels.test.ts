// issue 23 #3: the label TIFF states its pixel size, read back by independent readers (tifffile, libtiff's
// tiffinfo) and by our own decoder.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePng } from './png.js';
import { decodeTiff } from './tiff-read.js';
import { encodeLabelsTiff, encodeTiff } from './tiff-write.js';
import { isOmeTiff, labelPixelSize, labelSource, labelTiffOptions } from './tiff-write-labels.js';
import { tifffilePixelSize, tiffinfo } from './tiff-pixel-size.test-helpers.js';
import type { Labels } from './types.js';
import { ImageError } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'tiff-labels-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function save(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function labels(): Labels {
  const data = new Uint32Array(32 * 48);
  for (let y = 4; y < 12; y++) for (let x = 4; x < 20; x++) data[y * 48 + x] = 1;
  for (let y = 16; y < 30; y++) for (let x = 30; x < 44; x++) data[y * 48 + x] = 2;
  return { data, height: 32, width: 48 };
}

describe('label TIFF pixel size (issue 23 #3)', () => {
  it('ImageJ flavour: X/YResolution in pixels per µm, ResolutionUnit none, unit=micron; Fiji and tifffile read 0.65 µm', () => {
    const path = save('ij.tif', encodeLabelsTiff(labels(), { pixelSize: { x: 0.65, y: 0.5 } }));
    const t = tifffilePixelSize(path);
    expect(t).toMatchObject({ is_imagej: true, is_ome: false, unit: 'micron', resunit: 1, labels_max: 2 });
    expect(t.xres![1]! / t.xres![0]!).toBeCloseTo(0.65, 9); // µm per pixel = 1 / (pixels per µm)
    expect(t.yres![1]! / t.yres![0]!).toBeCloseTo(0.5, 9);
    const info = tiffinfo(path);
    expect(info).toMatch(/Resolution: 1\.53846, 2 \(unitless\)/);
    expect(info).toMatch(/unit=micron/);
    const own = decodeTiff(readFileSync(path));
    expect(own.physicalSizeX).toBeCloseTo(0.65, 12);
    expect(own.physicalSizeY).toBeCloseTo(0.5, 12);
  });

  it('OME flavour: OME-XML PhysicalSizeX/Y in µm and X/YResolution in pixels per cm', () => {
    const path = save(
      'ome.tif',
      encodeLabelsTiff(labels(), { pixelSize: { x: 0.4, y: 0.4 }, metadata: 'ome' }),
    );
    const t = tifffilePixelSize(path);
    expect(t).toMatchObject({ is_ome: true, is_imagej: false, ome_x: 0.4, ome_y: 0.4, ome_unit: 'µm' });
    expect(t).toMatchObject({ resunit: 3, labels_max: 2 });
    expect(t.xres![0]! / t.xres![1]!).toBeCloseTo(25000, 6); // 1e4 µm per cm / 0.4 µm per pixel
    expect(tiffinfo(path)).toMatch(/Resolution: 25000, 25000 pixels\/cm/);
    const own = decodeTiff(readFileSync(path));
    expect([own.physicalSizeX, own.physicalSizeY, own.shape]).toEqual([0.4, 0.4, [32, 48]]);
    expect(isOmeTiff(readFileSync(path))).toBe(true);
  });

  it('without a pixel size the file states none (no resolution tags, no unit)', () => {
    const path = save('none.tif', encodeLabelsTiff(labels()));
    expect(tifffilePixelSize(path)).toMatchObject({ unit: null, xres: null, resunit: null });
    expect(tiffinfo(path)).not.toMatch(/Resolution/);
    expect(decodeTiff(readFileSync(path)).physicalSizeX).toBeUndefined();
  });

  it('refuses a pixel size the rational tags cannot hold, naming it', () => {
    expect(() => encodeLabelsTiff(labels(), { pixelSize: { x: 0, y: 1 } })).toThrowError(ImageError);
    expect(() => encodeLabelsTiff(labels(), { pixelSize: { x: 5000, y: 1 } })).toThrowError(
      /pixel size X must be > 0 and at most 4294 µm, got 5000/,
    );
  });

  it('labelTiffOptions: the µm/px given wins over the file; the file otherwise; odd sizes are left out', () => {
    const ome = readFileSync(
      save('ome2.tif', encodeLabelsTiff(labels(), { pixelSize: { x: 0.4, y: 0.4 }, metadata: 'ome' })),
    );
    const src = labelSource(decodeTiff(ome), ome);
    expect(src).toEqual({ physicalSizeX: 0.4, physicalSizeY: 0.4, ome: true });
    expect(labelTiffOptions(src, undefined)).toEqual({
      compression: 'deflate',
      pixelSize: { x: 0.4, y: 0.4 },
      metadata: 'ome',
    });
    expect(labelTiffOptions(src, 0.65).pixelSize).toEqual({ x: 0.65, y: 0.65 });
    const png = encodePng({ data: new Uint8Array(16), dtype: 'uint8', shape: [4, 4], axes: 'YX' });
    expect(labelSource({}, png)).toEqual({});
    expect(labelTiffOptions(labelSource({}, png), undefined)).toEqual({ compression: 'deflate' });
    expect(labelPixelSize({ physicalSizeX: 1e7 }, undefined)).toBeUndefined(); // a file stating 10 m per pixel
    const ij = encodeTiff({
      data: new Uint8Array(16),
      dtype: 'uint8',
      shape: [4, 4],
      axes: 'YX',
      physicalSizeX: 2,
    });
    expect(isOmeTiff(ij)).toBe(false);
    expect(labelSource(decodeTiff(ij), ij)).toEqual({ physicalSizeX: 2, physicalSizeY: 2 });
  });
});
