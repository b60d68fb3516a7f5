import { describe, expect, it } from 'vitest';
import { maxFilterSquare, peakLocalMax } from './peaks.js';
import { seededRandom } from './synthetic-nuclei.js';
import { ImageError, type FloatMap } from './types.js';

const map = (rows: number[][]): FloatMap => ({
  data: Float32Array.from(rows.flat()),
  height: rows.length,
  width: rows[0]!.length,
});
const yx = (m: FloatMap, peaks: Int32Array): [number, number][] =>
  [...peaks].map((i) => [Math.floor(i / m.width), i % m.width]);

describe('peakLocalMax on hand-written maps', () => {
  it('finds a single interior maximum', () => {
    const m = map([
      [0, 0, 0, 0],
      [0, 1, 2, 0],
      [0, 1, 1, 0],
    ]);
    expect(yx(m, peakLocalMax(m, { minDistance: 1, thresholdAbs: 0 }))).toEqual([[1, 2]]);
  });
  it('a plateau gives one peak: its first pixel in raster order', () => {
    const m = map([
      [0, 0, 0, 0, 0],
      [0, 0, 3, 3, 0],
      [0, 3, 3, 0, 0],
      [0, 0, 0, 0, 0],
    ]);
    expect(yx(m, peakLocalMax(m, { minDistance: 1, thresholdAbs: 0 }))).toEqual([[1, 2]]);
  });
  it('a lower peak inside a higher peak`s window is not a peak; outside it is', () => {
    const m = map([[0, 5, 0, 3, 0]]);
    expect(yx(m, peakLocalMax(m, { minDistance: 1, thresholdAbs: 0 }))).toEqual([
      [0, 1],
      [0, 3],
    ]);
    expect(yx(m, peakLocalMax(m, { minDistance: 2, thresholdAbs: 0 }))).toEqual([[0, 1]]);
  });
  it('equal separate peaks closer than minDistance: the first in raster order wins; at minDistance both stay', () => {
    const close = map([[0, 4, 0, 4, 0, 0]]);
    expect(yx(close, peakLocalMax(close, { minDistance: 3, thresholdAbs: 0 }))).toEqual([[0, 1]]);
    expect(yx(close, peakLocalMax(close, { minDistance: 2, thresholdAbs: 0 }))).toEqual([
      [0, 1],
      [0, 3],
    ]);
  });
  it('orders peaks by decreasing value, ties by index', () => {
    const m = map([
      [1, 0, 0, 2],
      [0, 0, 0, 0],
      [2, 0, 0, 1],
    ]);
    expect(yx(m, peakLocalMax(m, { minDistance: 1, thresholdAbs: 0 }))).toEqual([
      [0, 3],
      [2, 0],
      [0, 0],
      [2, 3],
    ]);
  });
  it('the threshold is strict', () => {
    const m = map([[0, 0.5, 0, 0.7, 0]]);
    expect(yx(m, peakLocalMax(m, { minDistance: 1, thresholdAbs: 0.5 }))).toEqual([[0, 3]]);
  });
  it('border peaks count unless excludeBorder; excludeBorder bans a band of minDistance px', () => {
    const m = map([
      [9, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [0, 0, 5, 0, 0],
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
    ]);
    expect(yx(m, peakLocalMax(m, { minDistance: 1, thresholdAbs: 0 }))).toEqual([
      [0, 0],
      [2, 2],
    ]);
    expect(yx(m, peakLocalMax(m, { minDistance: 1, thresholdAbs: 0, excludeBorder: true }))).toEqual([
      [2, 2],
    ]);
    expect(yx(m, peakLocalMax(m, { minDistance: 2, thresholdAbs: 0, excludeBorder: true }))).toEqual([]);
  });
  it('a plateau crossing the border band keeps a peak from its inner part', () => {
    const m = map([
      [0, 0, 0, 0],
      [7, 7, 7, 0],
      [0, 0, 0, 0],
    ]);
    expect(yx(m, peakLocalMax(m, { minDistance: 1, thresholdAbs: 0, excludeBorder: true }))).toEqual([
      [1, 1],
    ]);
  });
  it('constant, all-zero and empty maps have no peaks', () => {
    expect(peakLocalMax(map([[2, 2, 2]]), { minDistance: 1, thresholdAbs: 0 }).length).toBe(0);
    expect(
      peakLocalMax(
        map([
          [0, 0],
          [0, 0],
        ]),
        { minDistance: 3, thresholdAbs: -1 },
      ).length,
    ).toBe(0);
    expect(
      peakLocalMax({ data: new Float32Array(0), height: 0, width: 5 }, { minDistance: 1, thresholdAbs: 0 })
        .length,
    ).toBe(0);
  });
  it('handles negative maps (window clipped, not zero-padded)', () => {
    const m = map([[-3, -1, -2]]);
    expect(yx(m, peakLocalMax(m, { minDistance: 1, thresholdAbs: -5 }))).toEqual([[0, 1]]);
  });
});

describe('peakLocalMax errors', () => {
  const m = map([[0, 1, 0]]);
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ImageError);
      return (e as ImageError).code;
    }
    return 'no error';
  };
  it('rejects minDistance < 1 or fractional', () => {
    expect(() => peakLocalMax(m, { minDistance: 0, thresholdAbs: 0 })).toThrow(
      /'minDistance' must be an integer >= 1, got 0/,
    );
    expect(code(() => peakLocalMax(m, { minDistance: 1.5, thresholdAbs: 0 }))).toBe('bad-argument');
  });
  it('rejects a non-finite threshold and missing options', () => {
    expect(() => peakLocalMax(m, { minDistance: 1, thresholdAbs: NaN })).toThrow(
      /'thresholdAbs' must be a finite number, got NaN/,
    );
    expect(() => peakLocalMax(m, undefined as unknown as { minDistance: 1; thresholdAbs: 0 })).toThrow(
      /options are required/,
    );
  });
  it('rejects NaN / Infinity pixels, naming the pixel', () => {
    expect(() =>
      peakLocalMax(
        map([
          [0, 1],
          [NaN, 0],
        ]),
        { minDistance: 1, thresholdAbs: 0 },
      ),
    ).toThrow(/map: value at \[1, 0\] is NaN/);
    expect(code(() => peakLocalMax(map([[Infinity]]), { minDistance: 1, thresholdAbs: 0 }))).toBe(
      'bad-argument',
    );
  });
  it('rejects a data length that does not match the shape', () => {
    expect(
      code(() =>
        peakLocalMax({ data: new Float32Array(5), height: 2, width: 2 }, { minDistance: 1, thresholdAbs: 0 }),
      ),
    ).toBe('shape-mismatch');
  });
});

describe('maxFilterSquare and peak invariants on random maps', () => {
  const bruteMax = (src: Float32Array, h: number, w: number, r: number): Float32Array => {
    const out = new Float32Array(h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let m = -Infinity;
        for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++)
          for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++)
            m = Math.max(m, src[yy * w + xx]!);
        out[y * w + x] = m;
      }
    return out;
  };
  const rand = seededRandom(3);
  for (const [h, w, r] of [
    [1, 1, 1],
    [7, 5, 1],
    [13, 29, 2],
    [30, 17, 4],
    [5, 40, 10],
    [23, 23, 11],
  ] as const) {
    it(`equals the brute-force window max (${h}x${w}, r=${r})`, () => {
      const src = Float32Array.from({ length: h * w }, () => Math.round(rand() * 20) - 5);
      expect(maxFilterSquare(src, h, w, r)).toEqual(bruteMax(src, h, w, r));
    });
  }
  it('every peak is its window max, above threshold, and peaks are >= minDistance apart', () => {
    const h = 60;
    const w = 70;
    const data = Float32Array.from({ length: h * w }, () => Math.floor(rand() * 6));
    const m = { data, height: h, width: w };
    const d = 3;
    const peaks = peakLocalMax(m, { minDistance: d, thresholdAbs: 1 });
    const wmax = bruteMax(data, h, w, d);
    expect(peaks.length).toBeGreaterThan(10);
    for (const p of peaks) {
      expect(data[p]).toBe(wmax[p]);
      expect(data[p]).toBeGreaterThan(1);
    }
    for (const a of peaks)
      for (const b of peaks) {
        if (a === b) continue;
        const cheb = Math.max(Math.abs(Math.floor(a / w) - Math.floor(b / w)), Math.abs((a % w) - (b % w)));
        expect(cheb).toBeGreaterThanOrEqual(d);
      }
  });
});
