import { describe, expect, it } from 'vitest';
import { labelAt, labelStats } from './label-stats.js';
import { hsvToRgb, labelColour, renderOverlay } from './overlay.js';

// 6 x 5 labels: object 1 is a 3x3 square, object 2 a 2x2 square touching it, object 7 a single pixel.
// prettier-ignore
const L = new Uint32Array([
  1, 1, 1, 0, 0, 0,
  1, 1, 1, 2, 2, 0,
  1, 1, 1, 2, 2, 0,
  0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 7,
]);
const W = 6;
const H = 5;

function alphaMask(rgba: Uint8ClampedArray): number[] {
  const m: number[] = [];
  for (let i = 3; i < rgba.length; i += 4) m.push(rgba[i]! > 0 ? 1 : 0);
  return m;
}

describe('renderOverlay', () => {
  it('fill draws every object pixel in its colour at the given opacity, background transparent', () => {
    const rgba = renderOverlay(L, W, H, { mode: 'fill', opacity: 0.5 });
    expect(rgba.length).toBe(W * H * 4);
    expect(alphaMask(rgba)).toEqual([...L].map((v) => (v ? 1 : 0)));
    const [r, g, b] = labelColour(2);
    const i = (1 * W + 3) * 4;
    expect([...rgba.slice(i, i + 4)]).toEqual([r, g, b, 128]);
    expect([...rgba.slice(0 + 3 * 4, 4 * 4)]).toEqual([0, 0, 0, 0]);
  });

  it('outline draws only object pixels that touch another label (4-neighbours)', () => {
    const rgba = renderOverlay(L, W, H, { mode: 'outline' });
    // Centre of the 3x3 square (1,1) is interior; border pixels of the frame are not outline by themselves.
    // prettier-ignore
    expect(alphaMask(rgba)).toEqual([
      0, 0, 1, 0, 0, 0,
      0, 0, 1, 1, 1, 0,
      1, 1, 1, 1, 1, 0,
      0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 1,
    ]);
    expect(rgba[3]).toBe(0);
    expect(rgba[(2 * W + 0) * 4 + 3]).toBe(255);
  });

  it('an object that fills the image has no outline, and an all-background image draws nothing', () => {
    expect(alphaMask(renderOverlay(new Uint32Array(12).fill(3), 4, 3, { mode: 'outline' }))).toEqual(
      Array(12).fill(0),
    );
    expect(alphaMask(renderOverlay(new Uint32Array(12), 4, 3, { mode: 'fill' }))).toEqual(Array(12).fill(0));
  });

  it('highlights one object filled in white, in outline mode too, at least 80 % opaque unless hidden', () => {
    const rgba = renderOverlay(L, W, H, { mode: 'outline', highlight: 1, opacity: 1 });
    const centre = (1 * W + 1) * 4;
    expect([...rgba.slice(centre, centre + 4)]).toEqual([255, 255, 255, 255]);
    const faint = renderOverlay(L, W, H, { mode: 'fill', highlight: 2, opacity: 0.2 });
    const i2 = (1 * W + 3) * 4;
    expect([...faint.slice(i2, i2 + 4)]).toEqual([255, 255, 255, 204]);
    expect(faint[centre + 3]).toBe(51); // other objects keep the asked opacity
    expect(renderOverlay(L, W, H, { mode: 'fill', highlight: 2, opacity: 0 })[i2 + 3]).toBe(0);
  });

  it('clamps opacity to 0..1 and overwrites a given out buffer fully', () => {
    const out = new Uint8ClampedArray(W * H * 4).fill(9);
    const rgba = renderOverlay(L, W, H, { mode: 'fill', opacity: 3, out });
    expect(rgba).toBe(out);
    expect(out[3]).toBe(255);
    expect(out[3 * 4 + 3]).toBe(0);
    expect(out[3 * 4]).toBe(0);
    expect(renderOverlay(L, W, H, { mode: 'fill', opacity: -1 })[3]).toBe(0);
  });

  it('rejects labels, sizes and out buffers that disagree, naming the shapes', () => {
    expect(() => renderOverlay(L, 5, 5, { mode: 'fill' })).toThrow(/30 values, expected 5x5 = 25/);
    expect(() => renderOverlay(L, 6.5, 5, { mode: 'fill' })).toThrow(/non-negative integers, got 6.5x5/);
    expect(() => renderOverlay(L, W, H, { mode: 'fill', out: new Uint8ClampedArray(4) })).toThrow(
      /out has 4 values, expected 120 \(5x6x4\)/,
    );
  });
});

describe('labelColour', () => {
  it('is black for background and distinct for the first 256 ids', () => {
    expect(labelColour(0)).toEqual([0, 0, 0]);
    const seen = new Set<string>();
    for (let id = 1; id <= 256; id++) seen.add(labelColour(id).join(','));
    expect(seen.size).toBe(256);
  });

  it('converts HSV primaries exactly', () => {
    expect(hsvToRgb(0, 1, 1)).toEqual([255, 0, 0]);
    expect(hsvToRgb(120, 1, 1)).toEqual([0, 255, 0]);
    expect(hsvToRgb(240, 1, 1)).toEqual([0, 0, 255]);
    expect(hsvToRgb(0, 0, 1)).toEqual([255, 255, 255]);
  });
});

describe('labelStats / labelAt', () => {
  it('counts distinct objects and their areas, with gaps in ids', () => {
    const s = labelStats(L);
    expect(s.count).toBe(3);
    expect(s.maxId).toBe(7);
    expect([...s.areas]).toEqual([
      [1, 9],
      [2, 4],
      [7, 1],
    ]);
    expect(labelStats(new Uint32Array(4))).toMatchObject({ count: 0, maxId: 0 });
  });

  it('finds the object under a point and 0 outside the image', () => {
    expect(labelAt(L, W, H, 3.9, 1.2)).toBe(2);
    expect(labelAt(L, W, H, 5, 4)).toBe(7);
    expect(labelAt(L, W, H, -0.1, 0)).toBe(0);
    expect(labelAt(L, W, H, 6, 0)).toBe(0);
    expect(labelAt(L, W, H, Number.NaN, 0)).toBe(0);
  });
});
