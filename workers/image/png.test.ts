import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng } from './png.js';
import { ImageError } from './types.js';
import { NUCLEI_VAL } from '../../test/data.js';

const VAL = NUCLEI_VAL;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    return (err as ImageError).code;
  }
  return 'no error';
}

describe('decodePng', () => {
  it('reads the real nuclei label PNGs as YX uint16 and images as YX uint8', () => {
    const labels = readdirSync(VAL)
      .filter((f) => f.endsWith('.labels.png'))
      .slice(0, 5);
    expect(labels.length).toBeGreaterThan(0);
    for (const f of labels) {
      const raw = decodePng(new Uint8Array(readFileSync(join(VAL, f))));
      expect(raw.axes).toBe('YX');
      expect(raw.dtype).toBe('uint16');
      expect(raw.data).toBeInstanceOf(Uint16Array);
      expect(raw.data.length).toBe(raw.shape[0]! * raw.shape[1]!);
      expect(Math.max(...raw.data)).toBeGreaterThan(0);
      const image = decodePng(new Uint8Array(readFileSync(join(VAL, f.replace('.labels.', '.image.')))));
      expect(image.dtype).toBe('uint8');
      expect(image.shape).toEqual(raw.shape);
    }
  });

  it('round-trips 8- and 16-bit grey through encodePng exactly', () => {
    const u16 = Uint16Array.from({ length: 7 * 9 }, (_, i) => i * 1000);
    const back16 = decodePng(encodePng({ data: u16, dtype: 'uint16', shape: [7, 9], axes: 'YX' }));
    expect(back16).toEqual({ data: u16, dtype: 'uint16', shape: [7, 9], axes: 'YX' });
    const u8 = Uint8Array.from({ length: 7 * 9 }, (_, i) => i * 4);
    const back8 = decodePng(encodePng({ data: u8, dtype: 'uint8', shape: [7, 9], axes: 'YX' }));
    expect(Array.from(back8.data)).toEqual(Array.from(u8));
    expect(back8.dtype).toBe('uint8');
  });

  it('gives RGB, RGBA and grey+alpha as YXS, and expands a palette to RGB', () => {
    const rgb = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i);
    expect(decodePng(encode({ width: 3, height: 2, data: rgb, channels: 3, depth: 8 })).shape).toEqual([
      2, 3, 3,
    ]);
    const ga = decodePng(encode({ width: 3, height: 2, data: new Uint8Array(12), channels: 2, depth: 8 }));
    expect([ga.axes, ...ga.shape]).toEqual(['YXS', 2, 3, 2]);
    const palette = [
      [10, 20, 30],
      [40, 50, 60],
    ];
    const indexed = encode({
      width: 2,
      height: 1,
      data: new Uint8Array([1, 0]),
      channels: 1,
      depth: 8,
      palette,
    });
    const expanded = decodePng(indexed);
    expect(expanded.axes).toBe('YXS');
    expect(Array.from(expanded.data)).toEqual([40, 50, 60, 10, 20, 30]);
  });

  it('unpacks 1-bit grey to one byte per pixel with values 0..1', () => {
    const packed = new Uint8Array([0b10100000, 0b01000000]); // two rows of 3 pixels
    const raw = decodePng(encode({ width: 3, height: 2, data: packed, channels: 1, depth: 1 }));
    expect(Array.from(raw.data)).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it('refuses bad input with typed errors', () => {
    const good = encodePng({
      data: new Uint8Array(64 * 64).fill(7),
      dtype: 'uint8',
      shape: [64, 64],
      axes: 'YX',
    });
    expect(codeOf(() => decodePng(new Uint8Array([1, 2, 3])))).toBe('not-an-image');
    for (const cut of [10, 30, 40, good.length - 20, good.length - 5]) {
      expect(
        codeOf(() => decodePng(good.subarray(0, cut))),
        `cut at ${cut}`,
      ).toBe('truncated');
    }
    expect(codeOf(() => decodePng(good, { maxPixels: 4095 }))).toBe('too-many-pixels');
    const zero = good.slice();
    zero.fill(0, 16, 20);
    expect(codeOf(() => decodePng(zero))).toBe('empty-image');
    const badType = good.slice();
    badType[25] = 5;
    expect(codeOf(() => decodePng(badType))).toBe('unsupported-format');
  });

  it('encodePng refuses other dtypes, axes and shapes', () => {
    expect(
      codeOf(() => encodePng({ data: new Float32Array(4), dtype: 'float32', shape: [2, 2], axes: 'YX' })),
    ).toBe('unsupported-dtype');
    expect(
      codeOf(() => encodePng({ data: new Uint8Array(4), dtype: 'uint8', shape: [1, 2, 2], axes: 'CYX' })),
    ).toBe('bad-argument');
    expect(
      codeOf(() => encodePng({ data: new Uint8Array(3), dtype: 'uint8', shape: [2, 2], axes: 'YX' })),
    ).toBe('shape-mismatch');
    expect(
      codeOf(() => encodePng({ data: new Uint8Array(0), dtype: 'uint8', shape: [0, 2], axes: 'YX' })),
    ).toBe('empty-image');
  });
});
