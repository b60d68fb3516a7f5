import { describe, expect, it } from 'vitest';
import { unfilterScanlines } from './png-unfilter.js';

/** Two 4-byte rows (2 pixels of 2 bytes: bpp 2) with the filter bytes given, unfiltered. */
const twoRows = (f0: number, r0: number[], f1: number, r1: number[]) =>
  Array.from(unfilterScanlines([new Uint8Array([f0, ...r0, f1, ...r1])], 2, 4, 2));

describe('unfilterScanlines', () => {
  // Raw rows [10, 200, 30, 250] then [5, 100, 60, 240]; each case filters them by hand (spec §9.2).
  const raw = [10, 200, 30, 250, 5, 100, 60, 240];

  it('None copies the bytes', () => {
    expect(twoRows(0, [10, 200, 30, 250], 0, [5, 100, 60, 240])).toEqual(raw);
  });

  it('Sub adds the byte one pixel (bpp bytes) to the left, modulo 256', () => {
    // row 0: 30-10=20, 250-200=50; row 1: 60-5=55, 240-100=140
    expect(twoRows(1, [10, 200, 20, 50], 1, [5, 100, 55, 140])).toEqual(raw);
  });

  it('Up adds the byte above (zeros above the first row)', () => {
    // row 1: 5-10=-5→251, 100-200→156, 60-30=30, 240-250→246
    expect(twoRows(2, [10, 200, 30, 250], 2, [251, 156, 30, 246])).toEqual(raw);
  });

  it('Average adds floor((left + above) / 2)', () => {
    // row 0: left only: 30-(10>>1)=25, 250-(200>>1)=150
    // row 1: 5-(10>>1)=0, 100-(200>>1)=0, 60-((5+30)>>1)=43, 240-((100+250)>>1)=65
    expect(twoRows(3, [10, 200, 25, 150], 3, [0, 0, 43, 65])).toEqual(raw);
  });

  it('Paeth adds whichever of left, above, upper-left is nearest left + above - upper-left', () => {
    // row 0 (zeros above): the left byte, as Sub: [10, 200, 20, 50]
    // row 1, i=0,1: above (10, 200): 5-10→251, 100-200→156
    // i=2: a=5 b=30 c=10: p=25, pa=20 pb=5 pc=15 → b=30: 60-30=30
    // i=3: a=100 b=250 c=200: p=150, pa=50 pb=100 pc=50 → a=100: 240-100=140
    expect(twoRows(4, [10, 200, 20, 50], 4, [251, 156, 30, 140])).toEqual(raw);
    // Ties: |p-a| = |p-c| < |p-b| picks a (8, not c = 10); |p-b| = |p-c| < |p-a| picks b (8, not 10).
    expect(twoRows(0, [10, 0, 11, 0], 4, [254, 0, 42, 0])).toEqual([10, 0, 11, 0, 8, 0, 50, 0]);
    expect(twoRows(0, [10, 0, 8, 0], 4, [1, 0, 42, 0])).toEqual([10, 0, 8, 0, 11, 0, 50, 0]);
  });

  it('reads rows across chunk boundaries, empty chunks included', () => {
    const rows = 9;
    const rowBytes = 7;
    const filtered = Uint8Array.from({ length: rows * (rowBytes + 1) }, (_, i) =>
      i % (rowBytes + 1) === 0 ? (i / (rowBytes + 1)) % 5 : (i * 97 + 13) & 255,
    );
    const whole = unfilterScanlines([filtered], rows, rowBytes, 3);
    for (const cuts of [[1], [3, 8, 8, 9, 30], [8, 16, 24], [70, 71], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]) {
      const bounds = [0, ...cuts, filtered.length];
      const chunks = bounds.slice(1).map((b, k) => filtered.subarray(bounds[k], b));
      expect(unfilterScanlines(chunks, rows, rowBytes, 3), `cuts ${cuts.join(',')}`).toEqual(whole);
    }
    // Bytes past the last row are ignored.
    expect(unfilterScanlines([filtered, new Uint8Array([9, 9])], rows, rowBytes, 3)).toEqual(whole);
  });

  it("refuses a filter type past 4 with fast-png's message, at the first such row", () => {
    expect(() => twoRows(0, [1, 2, 3, 4], 5, [1, 2, 3, 4])).toThrow(/^Unsupported filter: 5$/);
    expect(() => twoRows(255, [1, 2, 3, 4], 7, [1, 2, 3, 4])).toThrow(/^Unsupported filter: 255$/);
  });
});
