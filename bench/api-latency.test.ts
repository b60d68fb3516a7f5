import { describe, expect, it } from 'vitest';
import type { RawArray } from '../workers/image/types.js';
import { gridImage, summarize } from './api-latency-input.js';

const tile = (h: number, w: number, base: number, dtype: 'uint8' | 'uint16' = 'uint8'): RawArray => {
  const data = dtype === 'uint8' ? new Uint8Array(h * w) : new Uint16Array(h * w);
  for (let i = 0; i < h * w; i++) data[i] = base + i;
  return { data, dtype, shape: [h, w], axes: 'YX' };
};

describe('gridImage', () => {
  it('lays tiles out row by row, each pixel where its tile and offset put it', () => {
    const tiles = [tile(2, 3, 0), tile(2, 3, 10), tile(2, 3, 20), tile(2, 3, 30)];
    const g = gridImage(tiles, 2, 2);
    expect(g.shape).toEqual([4, 6]);
    expect(g.dtype).toBe('uint8');
    expect(Array.from(g.data)).toEqual([
      ...[0, 1, 2, 10, 11, 12],
      ...[3, 4, 5, 13, 14, 15],
      ...[20, 21, 22, 30, 31, 32],
      ...[23, 24, 25, 33, 34, 35],
    ]);
  });

  it('keeps 16-bit values', () => {
    const g = gridImage([tile(1, 2, 40000, 'uint16'), tile(1, 2, 50000, 'uint16')], 2, 1);
    expect(g.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(g.data)).toEqual([40000, 40001, 50000, 50001]);
  });

  it('refuses a wrong count, mixed shapes or dtypes, and non-grey tiles', () => {
    expect(() => gridImage([tile(2, 2, 0)], 2, 1)).toThrow(/needs 2 tiles/);
    expect(() => gridImage([tile(2, 2, 0), tile(2, 3, 0)], 2, 1)).toThrow(/all must match/);
    expect(() => gridImage([tile(2, 2, 0), tile(2, 2, 0, 'uint16')], 2, 1)).toThrow(/all must match/);
    const rgb: RawArray = { data: new Uint8Array(12), dtype: 'uint8', shape: [2, 2, 3], axes: 'YXS' };
    expect(() => gridImage([rgb], 1, 1)).toThrow(/not grey/);
    expect(() => gridImage([], 0, 1)).toThrow(/whole cols and rows/);
  });
});

describe('summarize', () => {
  it('gives the median (mean of the middle two for an even count), min and max', () => {
    expect(summarize([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(summarize([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4 });
    expect(() => summarize([])).toThrow(RangeError);
  });
});
