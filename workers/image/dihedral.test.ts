import { describe, expect, it } from 'vitest';
import {
  addDihedralInverse,
  DIHEDRAL_COUNT,
  dihedralInverse,
  dihedralPermutation,
  dihedralTransform,
} from './dihedral.js';
import { ImageError } from './types.js';

/** size x size x channels, every value distinct (so no transform but the identity maps it to itself). */
function distinct(size: number, channels: number): Float32Array {
  return Float32Array.from({ length: size * size * channels }, (_, i) => i + 1);
}

/** Value at (y, x, c) of a size x size x channels image. */
const at = (a: Float32Array, size: number, channels: number, y: number, x: number, c = 0): number =>
  a[(y * size + x) * channels + c]!;

const ks = Array.from({ length: DIHEDRAL_COUNT }, (_, k) => k);

describe('dihedral transforms of square images', () => {
  it.each([
    [1, 1],
    [5, 1],
    [4, 3],
    [6, 2],
  ])('%ix%i (size x channels): each inverse undoes its transform, both ways', (size, channels) => {
    const a = distinct(size, channels);
    for (const k of ks) {
      const t = dihedralTransform(a, size, channels, k);
      expect(Array.from(dihedralInverse(t, size, channels, k))).toEqual(Array.from(a));
      expect(Array.from(dihedralTransform(dihedralInverse(a, size, channels, k), size, channels, k))).toEqual(
        Array.from(a),
      );
    }
  });

  it('the 8 transforms are 8 different images, and 1..7 all move the data', () => {
    for (const [size, channels] of [
      [3, 1],
      [4, 2],
    ] as const) {
      const a = distinct(size, channels);
      const images = ks.map((k) => Array.from(dihedralTransform(a, size, channels, k)).join(','));
      expect(new Set(images).size).toBe(8);
      expect(images[0]).toBe(Array.from(a).join(','));
    }
  });

  it('1, 2, 3 flip left-right, up-down and both; 4 transposes; 5 and 6 rotate by 90°', () => {
    const n = 4;
    const a = distinct(n, 1);
    const t = ks.map((k) => dihedralTransform(a, n, 1, k));
    const last = n - 1;
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const v = (yy: number, xx: number): number => at(a, n, 1, yy, xx);
        expect(at(t[1]!, n, 1, y, x)).toBe(v(y, last - x));
        expect(at(t[2]!, n, 1, y, x)).toBe(v(last - y, x));
        expect(at(t[3]!, n, 1, y, x)).toBe(v(last - y, last - x));
        expect(at(t[4]!, n, 1, y, x)).toBe(v(x, y));
        expect(at(t[5]!, n, 1, y, x)).toBe(v(x, last - y)); // 90° counter-clockwise (numpy rot90)
        expect(at(t[6]!, n, 1, y, x)).toBe(v(last - x, y)); // 90° clockwise
        expect(at(t[7]!, n, 1, y, x)).toBe(v(last - x, last - y));
      }
  });

  it("moves each pixel's channel vector as one", () => {
    const size = 3;
    const channels = 3;
    const a = distinct(size, channels);
    for (const k of ks) {
      const t = dihedralTransform(a, size, channels, k);
      const perm = dihedralPermutation(k, size);
      for (let p = 0; p < size * size; p++)
        for (let c = 0; c < channels; c++) expect(t[p * channels + c]).toBe(a[perm[p]! * channels + c]);
    }
  });

  it('addDihedralInverse adds the inverse into a float64 sum', () => {
    const size = 5;
    const a = distinct(size, 1);
    const acc = new Float64Array(size * size).fill(0.5);
    for (const k of ks) addDihedralInverse(dihedralTransform(a, size, 1, k), size, k, acc);
    expect(Array.from(acc)).toEqual(Array.from(a, (v) => 8 * v + 0.5));
  });

  it('writes into a given output array', () => {
    const a = distinct(3, 2);
    const out = new Float32Array(a.length);
    expect(dihedralTransform(a, 3, 2, 5, out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(dihedralTransform(a, 3, 2, 5)));
  });

  it('refuses a bad transform index or a length that does not match the shape', () => {
    const a = distinct(3, 1);
    for (const k of [-1, 8, 1.5, NaN])
      expect(() => dihedralTransform(a, 3, 1, k)).toThrow(/dihedral transform must be an integer 0..7/);
    expect(() => dihedralTransform(a, 4, 1, 1)).toThrow(ImageError);
    expect(() => dihedralInverse(a, 3, 2, 1)).toThrow(/a 3x3x2 image holds 18 values; got 9/);
    expect(() => dihedralTransform(a, 3, 1, 1, new Float32Array(8))).toThrow(/holds 9 values; got 8/);
    expect(() => addDihedralInverse(a, 3, 1, new Float64Array(4))).toThrow(ImageError);
  });
});
