import { describe, expect, it } from 'vitest';
import type { Image, Labels } from '../image/types.js';
import { augmentIntensity, cropAndScale, dihedral, seededRng, simulateCamera } from './augment.js';

const img = (h: number, w: number, f: (y: number, x: number) => number): Image => {
  const data = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f(y, x);
  return { data, height: h, width: w, channels: 1 };
};
const lab = (image: Image): Labels => ({
  data: Uint32Array.from(image.data),
  height: image.height,
  width: image.width,
});

describe('cropAndScale', () => {
  const src = img(4, 6, (y, x) => y * 6 + x);
  it('at scale 1 centred on the image returns it unchanged', () => {
    const out = cropAndScale(src, lab(src), { centerY: 2, centerX: 3, scale: 1, height: 4, width: 6 });
    expect(Array.from(out.image.data)).toEqual(Array.from(src.data));
    expect(Array.from(out.labels.data)).toEqual(Array.from(src.data));
  });
  it('zero-pads outside the source and doubles with scale 2 (nearest labels)', () => {
    const out = cropAndScale(src, lab(src), { centerY: 1, centerX: 1, scale: 2, height: 4, width: 4 });
    // output rows cover source y in [0, 2): labels repeat each source pixel twice
    expect(Array.from(out.labels.data.slice(0, 4))).toEqual([0, 0, 1, 1]);
    expect(Array.from(out.labels.data.slice(8, 12))).toEqual([6, 6, 7, 7]);
    const pad = cropAndScale(src, lab(src), { centerY: -10, centerX: -10, scale: 1, height: 2, width: 2 });
    expect(Array.from(pad.image.data)).toEqual([0, 0, 0, 0]);
  });
  it('rejects mismatched shapes and bad specs', () => {
    const other = img(3, 6, () => 0);
    expect(() =>
      cropAndScale(src, lab(other), { centerY: 0, centerX: 0, scale: 1, height: 2, width: 2 }),
    ).toThrow(/image is 4x6 but labels are 3x6/);
    expect(() =>
      cropAndScale(src, lab(src), { centerY: 0, centerX: 0, scale: 0, height: 2, width: 2 }),
    ).toThrow(/crop scale must be in \(0.05, 20\)/);
    expect(() =>
      cropAndScale(src, lab(src), { centerY: 0, centerX: 0, scale: 1, height: 0, width: 2 }),
    ).toThrow(/crop size must be positive integers; got 0x2/);
  });
});

describe('dihedral', () => {
  const src = img(2, 3, (y, x) => y * 3 + x + 1);
  it('rotates a quarter turn counter-clockwise and flips', () => {
    const r = dihedral(src, lab(src), 1);
    expect([r.image.height, r.image.width]).toEqual([3, 2]);
    // [[1,2,3],[4,5,6]] rotated CCW = [[3,6],[2,5],[1,4]]
    expect(Array.from(r.image.data)).toEqual([3, 6, 2, 5, 1, 4]);
    expect(Array.from(dihedral(src, lab(src), 4).labels.data)).toEqual([3, 2, 1, 6, 5, 4]);
  });
  it('gives 8 distinct arrangements, and four quarter turns are the identity', () => {
    const seen = new Set<string>();
    for (let op = 0; op < 8; op++) seen.add(Array.from(dihedral(src, lab(src), op).image.data).join());
    expect(seen.size).toBe(8);
    let cur = { image: src, labels: lab(src) };
    for (let k = 0; k < 4; k++) cur = dihedral(cur.image, cur.labels, 1);
    expect(Array.from(cur.image.data)).toEqual(Array.from(src.data));
  });
  it('rejects an op outside 0..7', () => {
    expect(() => dihedral(src, lab(src), 8)).toThrow(/dihedral op must be an integer in 0..7; got 8/);
  });
});

describe('intensity', () => {
  const src = img(32, 32, (y, x) => ((x - 16) ** 2 + (y - 16) ** 2 < 64 ? 1 : 0));
  it('simulated camera keeps background near 0 and nuclei near 1, with quantization noise', () => {
    const out = simulateCamera(src, seededRng(1));
    let bg = 0;
    let fg = 0;
    let nf = 0;
    for (let i = 0; i < out.data.length; i++) {
      if (src.data[i]) {
        fg += out.data[i]!;
        nf++;
      } else bg += out.data[i]!;
    }
    expect(Math.abs(bg / (out.data.length - nf))).toBeLessThan(0.2);
    expect(fg / nf).toBeGreaterThan(0.7);
    expect(fg / nf).toBeLessThan(1.3);
    expect(out.data.some((v, i) => v !== src.data[i])).toBe(true);
  });
  it('is deterministic for a seed and leaves the input alone', () => {
    const copy = Float32Array.from(src.data);
    const a = augmentIntensity(src, seededRng(9));
    const b = augmentIntensity(src, seededRng(9));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(src.data)).toEqual(Array.from(copy));
  });
});
