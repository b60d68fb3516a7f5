import { describe, expect, it } from 'vitest';
import { contrastWindow, percentileWindow, planeOf, toGreyRgba } from './display.js';

describe('planeOf', () => {
  it('returns a YX image as it is, in float', () => {
    const p = planeOf({
      data: new Uint16Array([1, 2, 3, 4, 5, 6]),
      dtype: 'uint16',
      shape: [2, 3],
      axes: 'YX',
    });
    expect(p).toEqual({ width: 3, height: 2, data: new Float32Array([1, 2, 3, 4, 5, 6]) });
  });

  it('takes the asked channel of an interleaved YXS image and clamps it', () => {
    // 1x2 RGB: pixel 0 = (10, 20, 30), pixel 1 = (11, 21, 31)
    const raw = {
      data: new Uint8Array([10, 20, 30, 11, 21, 31]),
      dtype: 'uint8',
      shape: [1, 2, 3],
      axes: 'YXS',
    } as const;
    expect([...planeOf(raw, 1).data]).toEqual([20, 21]);
    expect([...planeOf(raw, 9).data]).toEqual([30, 31]);
  });

  it('takes channel c of a planar ZCYX stack at z = 0', () => {
    // Z=2, C=2, 1x2
    const data = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const p = planeOf({ data, dtype: 'float32', shape: [2, 2, 1, 2], axes: 'ZCYX' }, 1);
    expect([...p.data]).toEqual([3, 4]);
  });

  it('rejects arrays with no Y/X axes', () => {
    expect(() => planeOf({ data: new Uint8Array(3), dtype: 'uint8', shape: [3], axes: 'Q' })).toThrow(
      /axes 'Q' have no Y and X/,
    );
  });
});

describe('contrast', () => {
  it('percentiles by nearest rank, skipping NaN; empty gives [0, 0]', () => {
    const d = new Float32Array([5, 1, Number.NaN, 3, 2, 4]);
    expect(percentileWindow(d, 0, 100)).toEqual([1, 5]);
    expect(percentileWindow(d, 50, 75)).toEqual([3, 4]);
    expect(percentileWindow(new Float32Array(0), 1, 99)).toEqual([0, 0]);
  });

  it('maps the window to 0..255 grey, clamped, opaque', () => {
    const plane = { data: new Float32Array([0, 5, 10, 20]), width: 4, height: 1 };
    const rgba = toGreyRgba(plane, 0, 10);
    expect([...rgba]).toEqual([0, 0, 0, 255, 128, 128, 128, 255, 255, 255, 255, 255, 255, 255, 255, 255]);
  });

  it('shows a constant image as mid-grey and NaN as black', () => {
    const plane = { data: new Float32Array([7, Number.NaN]), width: 2, height: 1 };
    expect([...toGreyRgba(plane, 7, 7)]).toEqual([128, 128, 128, 255, 0, 0, 0, 255]);
  });

  it('rejects a wrong-sized out buffer', () => {
    const plane = { data: new Float32Array(4), width: 2, height: 2 };
    expect(() => toGreyRgba(plane, 0, 1, new Uint8ClampedArray(3))).toThrow(/out has 3 values, expected 16/);
  });

  it('the contrast slider saturates that share of pixels at each end, clamped to 0..20 %', () => {
    const data = new Float32Array(101).map((_, i) => i);
    const plane = { data, width: 101, height: 1 };
    expect(contrastWindow(plane, 0)).toEqual([0, 100]);
    expect(contrastWindow(plane, 5)).toEqual([5, 95]);
    expect(contrastWindow(plane, 50)).toEqual([20, 80]);
  });
});
