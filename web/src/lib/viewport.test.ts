import { describe, expect, it } from 'vitest';
import { fitView, panBy, toImage, zoomAt, MAX_SCALE } from './viewport.js';

describe('viewport', () => {
  it('fits a wide image centred, letterboxed top and bottom', () => {
    expect(fitView(200, 100, 400, 400)).toEqual({ scale: 2, tx: 0, ty: 100 });
    expect(fitView(0, 100, 400, 400)).toEqual({ scale: 1, tx: 0, ty: 0 });
  });

  it('zooming keeps the point under the cursor in place', () => {
    const v = fitView(200, 100, 400, 400);
    const before = toImage(v, 130, 170);
    const z = zoomAt(v, 3, 130, 170);
    expect(z.scale).toBe(6);
    const after = toImage(z, 130, 170);
    expect(after[0]).toBeCloseTo(before[0], 10);
    expect(after[1]).toBeCloseTo(before[1], 10);
  });

  it('clamps the scale and pans by screen pixels', () => {
    expect(zoomAt({ scale: 32, tx: 0, ty: 0 }, 10, 0, 0).scale).toBe(MAX_SCALE);
    expect(panBy({ scale: 2, tx: 1, ty: 2 }, 10, -5)).toEqual({ scale: 2, tx: 11, ty: -3 });
    expect(toImage({ scale: 2, tx: 10, ty: 20 }, 30, 40)).toEqual([10, 10]);
  });
});
