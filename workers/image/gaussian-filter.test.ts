import { describe, expect, it } from 'vitest';
import { gaussianFilter } from './gaussian-filter.js';
import { seededRandom } from './synthetic-nuclei.js';
import { ImageError } from './types.js';

/** Direct 2-D sum with scipy's 'reflect' edges (d c b a | a b c d) and truncate = 4. */
function brute(src: Float32Array, h: number, w: number, sigma: number): Float64Array {
  const r = Math.floor(4 * sigma + 0.5);
  const wt = Array.from({ length: 2 * r + 1 }, (_, k) => Math.exp(-0.5 * ((k - r) / sigma) ** 2));
  const sum = wt.reduce((a, b) => a + b);
  const reflect = (i: number, n: number): number => {
    for (;;) {
      if (i < 0) i = -i - 1;
      else if (i >= n) i = 2 * n - 1 - i;
      else return i;
    }
  };
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let a = -r; a <= r; a++)
        for (let b = -r; b <= r; b++)
          acc += wt[a + r]! * wt[b + r]! * src[reflect(y + a, h) * w + reflect(x + b, w)]!;
      out[y * w + x] = acc / (sum * sum);
    }
  return out;
}

describe('gaussianFilter', () => {
  const rand = seededRandom(9);
  for (const [h, w, sigma] of [
    [9, 11, 1],
    [20, 6, 2],
    [3, 4, 1.5], // kernel longer than the image: reflection repeats
    [40, 50, 2.6], // radius 10: two sweeps of four taps, then two single taps
    [37, 64, 3], // radius 12: three sweeps of four taps
  ] as const) {
    it(`matches a direct 2-D reflect-mode sum (${h}x${w}, sigma ${sigma})`, () => {
      const data = Float32Array.from({ length: h * w }, () => rand() * 4 - 1);
      const got = gaussianFilter({ data, height: h, width: w }, sigma).data;
      const want = brute(data, h, w, sigma);
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
    });
  }
  it('keeps a constant map constant and returns a copy for sigma 0', () => {
    const data = new Float32Array(12).fill(0.25);
    expect(
      [...gaussianFilter({ data, height: 3, width: 4 }, 2).data].every((v) => Math.abs(v - 0.25) < 1e-6),
    ).toBe(true);
    const copy = gaussianFilter({ data, height: 3, width: 4 }, 0);
    expect(copy.data).not.toBe(data);
    expect(copy.data).toEqual(data);
  });
  it('rejects a negative, huge or NaN sigma and a bad shape', () => {
    const m = { data: new Float32Array(4), height: 2, width: 2 };
    expect(() => gaussianFilter(m, -1)).toThrow(/'sigma' must be a finite number >= 0, got -1/);
    expect(() => gaussianFilter(m, NaN)).toThrow(ImageError);
    expect(() => gaussianFilter(m, 65)).toThrow(/'sigma' must be <= 64 px, got 65/);
    expect(() => gaussianFilter({ data: new Float32Array(3), height: 2, width: 2 }, 1)).toThrow(
      /shape \[2, 2\] needs 4/,
    );
  });
});
