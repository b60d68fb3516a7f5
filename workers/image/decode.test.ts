import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from './decode.js';
import { encodePng } from './png.js';
import { ImageError } from './types.js';

const tiff = new Uint8Array(
  readFileSync(join(import.meta.dirname, '../../test/fixtures/tiff/uint16-lzw.tif')),
);

function errorOf(fn: () => unknown): ImageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    return err as ImageError;
  }
  throw new Error('expected an ImageError');
}

describe('decodeImage', () => {
  it('sniffs TIFF and PNG by their magic bytes', () => {
    expect(decodeImage(tiff).shape).toEqual([12, 16]);
    const png = encodePng({ data: new Uint8Array(6), dtype: 'uint8', shape: [2, 3], axes: 'YX' });
    expect(decodeImage(png).shape).toEqual([2, 3]);
  });

  it.each([
    ['photo.jpg', [0xff, 0xd8, 0xff, 0xe0, 0, 0x10], 'JPEG'],
    ['anim.gif', [0x47, 0x49, 0x46, 0x38, 0x39, 0x61], 'GIF'],
    ['scan.bmp', [0x42, 0x4d, 0, 0, 0, 0], 'BMP'],
    ['batch.zip', [0x50, 0x4b, 0x03, 0x04, 0, 0], 'ZIP archive'],
  ])("%s → 'unsupported-format' naming %s and the file", (name, bytes, format) => {
    const err = errorOf(() => decodeImage(new Uint8Array(bytes), { name }));
    expect(err.code).toBe('unsupported-format');
    expect(err.message).toBe(`${name}: ${format} files are not supported; use TIFF or PNG`);
  });

  it("unknown bytes and empty files → 'not-an-image' naming the file", () => {
    const err = errorOf(() => decodeImage(new TextEncoder().encode('just some text'), { name: 'notes.txt' }));
    expect(err.code).toBe('not-an-image');
    expect(err.message).toMatch(/^notes\.txt: not a TIFF or PNG file \(first bytes: 6a 75 73 74/);
    expect(errorOf(() => decodeImage(new Uint8Array(0), { name: 'e.tif' })).message).toMatch(
      /e\.tif: the file is empty/,
    );
  });

  it('prefixes decoder errors with the file name and passes maxPixels on', () => {
    const err = errorOf(() => decodeImage(tiff, { name: 'cells.tif', maxPixels: 10 }));
    expect(err.code).toBe('too-many-pixels');
    expect(err.message).toMatch(/^cells\.tif: TIFF page 0 of 16x12x1/);
    expect(errorOf(() => decodeImage(tiff.subarray(0, 100), { name: 'cut.tif' })).message).toMatch(
      /^cut\.tif: /,
    );
  });
});
