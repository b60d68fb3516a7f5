import { describe, expect, it } from 'vitest';
import { ImageError, type Labels } from '../image/types.js';
import { computeTargets, squaredDistanceToOutside } from './targets.js';

function labelsFrom(rows: string[]): Labels {
  const height = rows.length;
  const width = rows[0]!.length;
  const data = new Uint32Array(height * width);
  rows.forEach((r, y) => [...r].forEach((ch, x) => (data[y * width + x] = ch === '.' ? 0 : Number(ch))));
  return { data, height, width };
}

/** Brute force: squared distance to the nearest zero, with everything outside the array zero. */
function bruteForce(mask: Uint8Array, h: number, w: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) {
        out.push(0);
        continue;
      }
      let best = Infinity;
      for (let yy = -1; yy <= h; yy++) {
        for (let xx = -1; xx <= w; xx++) {
          const inside = yy >= 0 && yy < h && xx >= 0 && xx < w && mask[yy * w + xx] === 1;
          if (!inside) best = Math.min(best, (yy - y) ** 2 + (xx - x) ** 2);
        }
      }
      out.push(best);
    }
  }
  return out;
}

describe('squaredDistanceToOutside', () => {
  it('matches brute force on random masks', () => {
    let seed = 3;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let trial = 0; trial < 20; trial++) {
      const h = 1 + Math.floor(rand() * 12);
      const w = 1 + Math.floor(rand() * 12);
      const mask = Uint8Array.from({ length: h * w }, () => (rand() < 0.8 ? 1 : 0));
      expect(Array.from(squaredDistanceToOutside(mask, h, w))).toEqual(bruteForce(mask, h, w));
    }
  });
});

describe('computeTargets', () => {
  it('gives a 3x3 square outer 1 at its centre and 0.5 on its rim, inner 1 at the centroid', () => {
    const t = computeTargets(labelsFrom(['.....', '.111.', '.111.', '.111.', '.....']), { alpha: 0.5 });
    expect(t.outer.data[12]).toBe(1);
    expect(t.outer.data[6]).toBe(0.5);
    expect(t.outer.data[0]).toBe(0);
    expect(t.inner.data[12]).toBe(1);
    // corner pixel: squared distance 2 from the centroid → 1 / (1 + 0.5 * 2)
    expect(t.inner.data[6]).toBeCloseTo(0.5, 6);
    expect(t.inner.data[7]).toBeCloseTo(1 / 1.5, 6);
    expect(Array.from(t.fg)).toEqual(
      Array.from(labelsFrom(['.....', '.111.', '.111.', '.111.', '.....']).data).map((v) => (v ? 1 : 0)),
    );
  });

  it('separates touching objects: each counts its neighbour as outside', () => {
    const t = computeTargets(labelsFrom(['......', '.1122.', '.1122.', '......']));
    // every pixel is on the rim of its own 2x2 object
    for (const i of [7, 8, 9, 10, 13, 14, 15, 16]) expect(t.outer.data[i]).toBe(1);
    // alpha 'auto' = 1/sqrt(4): the centroid is between pixels, squared distance 0.5 → 1 / (1 + 0.25)
    expect(t.inner.data[7]).toBeCloseTo(0.8, 6);
  });

  it('gives all zeros for empty labels and treats the image edge as outside', () => {
    const empty = computeTargets(labelsFrom(['...', '...']));
    expect(empty.inner.data.every((v) => v === 0) && empty.outer.data.every((v) => v === 0)).toBe(true);
    const edge = computeTargets(labelsFrom(['11', '11']));
    expect(Array.from(edge.outer.data)).toEqual([1, 1, 1, 1]);
  });

  it('accepts non-contiguous ids', () => {
    const t = computeTargets(labelsFrom(['5.9']));
    expect(Array.from(t.outer.data)).toEqual([1, 0, 1]);
  });

  it('rejects bad shapes and parameters', () => {
    expect(() => computeTargets({ data: new Uint32Array(5), height: 2, width: 3 })).toThrow(
      /labels are 2x3 but hold 5 values/,
    );
    const l = labelsFrom(['1']);
    expect(() => computeTargets(l, { alpha: 0 })).toThrow(ImageError);
    expect(() => computeTargets(l, { alpha: 0 })).toThrow(/'alpha' must be 'auto' or a number > 0; got 0/);
    expect(() => computeTargets(l, { beta: Number.NaN })).toThrow(/'beta' must be a number > 0; got NaN/);
  });
});
