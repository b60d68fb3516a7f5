import { describe, expect, it } from 'vitest';
import { toImages } from './channels.js';
import { expectError } from './test-helpers.js';
import type { RawArray } from './types.js';

/** Raw array holding 0, 1, 2, ... in row-major order. */
function ramp(shape: number[], axes = 'Q'.repeat(shape.length)): RawArray {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Uint16Array.from({ length: n }, (_, i) => i), dtype: 'uint16', shape, axes };
}

describe('toImages with a dimension order', () => {
  it("'XY' [2, 3] is a 2x3 image, unchanged (not transposed); 'YX' the same", () => {
    for (const order of ['XY', 'YX', 'xy']) {
      const [img, ...rest] = toImages(ramp([2, 3]), { dimensionOrder: order });
      expect(rest).toHaveLength(0);
      expect(img).toMatchObject({ height: 2, width: 3, channels: 1 });
      expect([...img!.data]).toEqual([0, 1, 2, 3, 4, 5]);
      expect(img!.data).toBeInstanceOf(Float32Array);
    }
  });

  it("'XYC' [2, 2, 3] keeps channels last", () => {
    const [img] = toImages(ramp([2, 2, 3]), { dimensionOrder: 'XYC' });
    expect(img).toMatchObject({ height: 2, width: 2, channels: 3 });
    expect([...img!.data]).toEqual([...Array(12).keys()]);
  });

  it("'CXY' [3, 2, 2] moves channels last; selecting [2, 0] reorders them", () => {
    // channel c, row y, column x holds 4c + 2y + x.
    const [all] = toImages(ramp([3, 2, 2]), { dimensionOrder: 'CXY' });
    expect([...all!.data]).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    const [sel] = toImages(ramp([3, 2, 2]), { dimensionOrder: 'CXY', channels: [2, 0] });
    expect(sel).toMatchObject({ height: 2, width: 2, channels: 2 });
    expect([...sel!.data]).toEqual([8, 0, 9, 1, 10, 2, 11, 3]);
  });

  it("'BXY' [2, 2, 2] gives one image per batch item", () => {
    const imgs = toImages(ramp([2, 2, 2]), { dimensionOrder: 'BXY' });
    expect(imgs.map((i) => [...i.data])).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
  });

  it("'XYB' [2, 2, 2] takes the batch from the last axis", () => {
    const imgs = toImages(ramp([2, 2, 2]), { dimensionOrder: 'XYB' });
    expect(imgs.map((i) => [...i.data])).toEqual([
      [0, 2, 4, 6],
      [1, 3, 5, 7],
    ]);
    expect(imgs[0]).toMatchObject({ height: 2, width: 2, channels: 1 });
  });

  it("'BXYC' [2, 2, 2, 3] gives two 2x2x3 images; 'ZXY' and 'TXY' batch like B", () => {
    const imgs = toImages(ramp([2, 2, 2, 3]), { dimensionOrder: 'BXYC', channels: [1] });
    expect(imgs.map((i) => [...i.data])).toEqual([
      [1, 4, 7, 10],
      [13, 16, 19, 22],
    ]);
    for (const order of ['ZXY', 'TXY'])
      expect(toImages(ramp([2, 1, 2]), { dimensionOrder: order })).toHaveLength(2);
  });

  it('flattens several batch axes outer first', () => {
    const imgs = toImages(ramp([2, 3, 1, 2]), { dimensionOrder: 'TZXY' });
    expect(imgs).toHaveLength(6);
    expect([...imgs[4]!.data]).toEqual([8, 9]); // t = 1, z = 1
  });

  it('may leave out size-1 axes, but a full-length order is tried first', () => {
    const [img] = toImages(ramp([1, 2, 3, 1], 'QYXS'), { dimensionOrder: 'XY' });
    expect(img).toMatchObject({ height: 2, width: 3, channels: 1 });
    expect([...img!.data]).toEqual([0, 1, 2, 3, 4, 5]);
    const full = toImages(ramp([1, 2, 3]), { dimensionOrder: 'BXY' });
    expect(full).toHaveLength(1);
    // [1, 5] with 'XY': full length wins, a 1x5 image (X of size 1 is kept).
    expect(toImages(ramp([1, 5]), { dimensionOrder: 'XY' })[0]).toMatchObject({ height: 1, width: 5 });
  });

  it('rejects an order that does not fit the data, showing shape and order', () => {
    expectError(
      () => toImages(ramp([2, 3]), { dimensionOrder: 'XYC' }),
      'bad-dimension-order',
      /'XYC'.*\[2, 3\]/,
    );
    expectError(
      () => toImages(ramp([2, 3, 4]), { dimensionOrder: 'XY' }),
      'bad-dimension-order',
      /'XY' has 2 letters, but the data has 3 axes \(3 longer than 1\).*\[2, 3, 4\]/,
    );
    expectError(() => toImages(ramp([2, 3]), { dimensionOrder: 'XW' }), 'bad-dimension-order', /has 'W'/);
    expectError(
      () => toImages(ramp([2, 3, 2]), { dimensionOrder: 'XXY' }),
      'bad-dimension-order',
      /repeats 'X'/,
    );
    expectError(
      () => toImages(ramp([2, 3]), { dimensionOrder: 'XC' }),
      'bad-dimension-order',
      /both X and Y/,
    );
  });
});

describe('toImages from raw.axes', () => {
  it("'YX' is one single-channel image", () => {
    const [img] = toImages(ramp([2, 3], 'YX'));
    expect(img).toMatchObject({ height: 2, width: 3, channels: 1 });
    expect([...img!.data]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("'YXS' interleaved samples become channels", () => {
    const [img] = toImages(ramp([1, 2, 3], 'YXS'), { channels: [2, 1] });
    expect([...img!.data]).toEqual([2, 1, 5, 4]);
  });

  it("'XY' storage (x outer) is transposed to [H, W]", () => {
    // axes letters from a decoder are meaningful: X outer means column-major storage.
    const [img] = toImages(ramp([3, 2], 'XY'));
    expect(img).toMatchObject({ height: 2, width: 3 });
    expect([...img!.data]).toEqual([0, 2, 4, 1, 3, 5]);
  });

  it("'ZCYX' gives one image per z with the C planes as channels; Q and T batch too", () => {
    const imgs = toImages(ramp([2, 2, 1, 2], 'ZCYX'));
    expect(imgs.map((i) => [...i.data])).toEqual([
      [0, 2, 1, 3],
      [4, 6, 5, 7],
    ]);
    expect(toImages(ramp([3, 1, 1], 'QYX'))).toHaveLength(3);
    expect(toImages(ramp([2, 2, 1, 1], 'TQYX'))).toHaveLength(4);
  });

  it("'CYXS' flattens C and S into channels, C outer", () => {
    const [img] = toImages(ramp([2, 1, 1, 3], 'CYXS'));
    expect([...img!.data]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('converts every dtype to float32 without scaling', () => {
    const f64: RawArray = { data: Float64Array.of(0.1, -2.5), dtype: 'float64', shape: [1, 2], axes: 'YX' };
    expect([...toImages(f64)[0]!.data]).toEqual([Math.fround(0.1), -2.5]);
    const u16: RawArray = { data: Uint16Array.of(65535, 7), dtype: 'uint16', shape: [1, 2], axes: 'YX' };
    expect([...toImages(u16)[0]!.data]).toEqual([65535, 7]);
    const i8: RawArray = { data: Int8Array.of(-128, 127), dtype: 'int8', shape: [2, 1], axes: 'YX' };
    expect([...toImages(i8)[0]!.data]).toEqual([-128, 127]);
  });

  it('rejects malformed raw arrays', () => {
    expectError(
      () => toImages({ ...ramp([2, 3]), axes: 'YXC' }),
      'shape-mismatch',
      /'YXC' \(3 letters\).*\[2, 3\]/,
    );
    expectError(
      () => toImages({ ...ramp([2, 3], 'YX'), shape: [2, 4] }),
      'shape-mismatch',
      /needs 8 values.*holds 6/,
    );
    expectError(() => toImages({ ...ramp([2, 3], 'YX'), shape: [2, -3] }), 'shape-mismatch', /non-negative/);
    expectError(() => toImages(ramp([0, 3], 'YX')), 'empty-image', /\[0, 3\] has no pixels/);
    expectError(() => toImages(ramp([2, 3], 'QX')), 'bad-dimension-order', /no Y and X/);
    expectError(() => toImages(ramp([2, 3, 1], 'YXY')), 'bad-dimension-order', /at most once \(got 'Y'\)/);
    expectError(() => toImages(ramp([2, 3], 'YW')), 'bad-dimension-order', /got 'W'/);
  });
});

describe('channel selection', () => {
  it('rejects out-of-range, fractional and empty selections, naming index and channel count', () => {
    const rgb = ramp([2, 2, 3], 'YXS');
    expectError(() => toImages(rgb, { channels: [3] }), 'bad-channel', /channel 3 .*3 channel\(s\).*0\.\.2/);
    expectError(() => toImages(rgb, { channels: [-1] }), 'bad-channel', /channel -1 /);
    expectError(() => toImages(rgb, { channels: [0.5] }), 'bad-channel', /channel 0\.5 /);
    expectError(() => toImages(rgb, { channels: [] }), 'bad-channel', /empty; the data has 3/);
    expectError(
      () => toImages(ramp([2, 2]), { dimensionOrder: 'XY', channels: [1] }),
      'bad-channel',
      /1 channel/,
    );
  });

  it('allows repeats', () => {
    const [img] = toImages(ramp([1, 1, 2], 'YXS'), { channels: [1, 1, 0] });
    expect([...img!.data]).toEqual([1, 1, 0]);
  });
});
