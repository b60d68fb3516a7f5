import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  MAX_RESIZE_VALUES,
  rescaleByMpp,
  rescaleLabelsByMpp,
  resizeBilinear,
  resizeMap,
  resizeNearest,
} from './resize.js';
import { expectError, image, noise } from './test-helpers.js';
import type { Labels } from './types.js';

function expectClose(actual: Float32Array, expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  const worst = Math.max(...expected.map((e, i) => Math.abs((actual[i] as number) - e)));
  expect(worst).toBeLessThanOrEqual(tol);
}

describe('resizeBilinear', () => {
  it('2x2 ramp to 4x4: pixel-centre sampling with clamped edges (computed by hand)', () => {
    // Output column o samples x = (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 → clamped to 0, .25, .75, 1.
    // Row weights likewise; value = x + 2y on [[0, 1], [2, 3]].
    const out = resizeBilinear(image(2, 2, 1, [0, 1, 2, 3]), 4, 4);
    expect(out).toMatchObject({ height: 4, width: 4, channels: 1 });
    expectClose(
      out.data,
      [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3],
      1e-7,
    );
  });

  it('keeps channels apart and returns a copy at the same size', () => {
    const src = image(1, 2, 2, [0, 10, 1, 20]);
    const out = resizeBilinear(src, 1, 4);
    expectClose(out.data, [0, 10, 0.25, 12.5, 0.75, 17.5, 1, 20], 1e-6);
    const same = resizeBilinear(src, 1, 2);
    expect([...same.data]).toEqual([...src.data]);
    expect(same.data).not.toBe(src.data);
  });

  it('a 1x1 image fills any size; 3x1 to 2x1 samples at 0.25 and 1.75', () => {
    expect([...resizeBilinear(image(1, 1, 1, [7]), 3, 2).data]).toEqual([7, 7, 7, 7, 7, 7]);
    // (o + 0.5) * 1.5 - 0.5 = 0.25, 1.75 on [0, 4, 8]
    expectClose(resizeBilinear(image(3, 1, 1, [0, 4, 8]), 2, 1).data, [1, 7], 1e-6);
  });

  it('shrinking more than 2x averages the footprint (area), so a 3-periodic pattern does not alias', () => {
    // 1x7 ramp → 1x2 (factor 3.5): [0, 3.5) = 0 + 1 + 2 + 0.5*3, [3.5, 7) = 0.5*3 + 4 + 5 + 6, each / 3.5.
    expectClose(
      resizeBilinear(image(1, 7, 1, [0, 1, 2, 3, 4, 5, 6]), 1, 2).data,
      [4.5 / 3.5, 16.5 / 3.5],
      1e-6,
    );
    // Stripes 1, 0, 0 repeated, shrunk 3x: point sampling at the centres would read only zeros.
    const stripes = image(1, 12, 1, [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0]);
    expectClose(resizeBilinear(stripes, 1, 4).data, [1 / 3, 1 / 3, 1 / 3, 1 / 3], 1e-6);
    // 6x6 → 2x2 by 3x3 block means of value = x + 6y: block (0, 0) mean = 1 + 6 = 7.
    const grid = image(6, 6, 1, [...Array(36).keys()]);
    expectClose(resizeBilinear(grid, 2, 2).data, [7, 10, 25, 28], 1e-5);
  });

  it('outputs stay within the input range', () => {
    const src = image(9, 13, 1, noise(117, 3));
    for (const [h, w] of [
      [4, 5],
      [20, 31],
      [2, 40],
      [1, 1],
    ] as const) {
      const out = resizeBilinear(src, h, w);
      expect(Math.min(...out.data)).toBeGreaterThanOrEqual(Math.min(...src.data) - 1e-6);
      expect(Math.max(...out.data)).toBeLessThanOrEqual(Math.max(...src.data) + 1e-6);
    }
  });

  it('matches skimage.transform.resize(order=1, mode="edge", anti_aliasing=False) within 1e-5', () => {
    // and skimage.transform.downscale_local_mean for an exact 3x shrink (the area path).
    const src = noise(5 * 7 * 2, 7);
    const big = noise(6 * 9, 11);
    const script = `
import json, sys, numpy as np
from skimage.transform import resize, downscale_local_mean
d = json.load(sys.stdin)
a = np.array(d["a"], dtype=np.float64).reshape(5, 7, 2)
b = np.array(d["b"], dtype=np.float64).reshape(6, 9)
r = lambda s: resize(a, s, order=1, mode="edge", anti_aliasing=False, preserve_range=True).ravel().tolist()
print(json.dumps({"up": r((9, 11, 2)), "down": r((4, 5, 2)), "mixed": r((3, 12, 2)),
                  "area": downscale_local_mean(b, (3, 3)).ravel().tolist()}))`;
    const py = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify({ a: src, b: big }) });
    expect(py.status, py.stderr?.toString()).toBe(0);
    const ref = JSON.parse(py.stdout.toString()) as Record<'up' | 'down' | 'mixed' | 'area', number[]>;
    const img = image(5, 7, 2, src);
    expectClose(resizeBilinear(img, 9, 11).data, ref.up, 1e-5);
    expectClose(resizeBilinear(img, 4, 5).data, ref.down, 1e-5);
    expectClose(resizeBilinear(img, 3, 12).data, ref.mixed, 1e-5);
    expectClose(resizeBilinear(image(6, 9, 1, big), 2, 3).data, ref.area, 1e-5);
  });

  it('rejects bad sizes and malformed images', () => {
    const src = image(2, 2, 1, [0, 1, 2, 3]);
    expectError(() => resizeBilinear(src, 0, 4), 'bad-argument', /target size 0x4/);
    expectError(() => resizeBilinear(src, 2.5, 4), 'bad-argument', /2\.5x4/);
    expectError(() => resizeBilinear(src, 4, Number.NaN), 'bad-argument', /4xNaN/);
    expectError(() => resizeBilinear(src, 2 ** 15, 2 ** 14), 'too-many-pixels', /32768x16384x1 exceeds/);
    expectError(
      () => resizeBilinear(image(2, 3, 1, [0, 1]), 4, 4),
      'shape-mismatch',
      /2x3x1 needs 6 values but holds 2/,
    );
    expectError(() => resizeBilinear({ ...src, height: 0 }, 4, 4), 'bad-argument', /0x2x1 must be positive/);
  });
});

describe('resizeMap', () => {
  it('is bilinear on one channel', () => {
    const out = resizeMap({ data: Float32Array.of(0, 1, 2, 3), height: 2, width: 2 }, 4, 4);
    expect(out).toMatchObject({ height: 4, width: 4 });
    expectClose(out.data, [...resizeBilinear(image(2, 2, 1, [0, 1, 2, 3]), 4, 4).data], 0);
    expectError(
      () => resizeMap({ data: new Float32Array(3), height: 2, width: 2 }, 4, 4),
      'shape-mismatch',
      /needs 4/,
    );
  });
});

describe('resizeNearest', () => {
  it('2x2 labels to 4x4 repeat each label in a 2x2 block; 4x4 → 2x2 takes the pixel right of centre', () => {
    const labels: Labels = { data: Uint32Array.of(1, 2, 3, 4), height: 2, width: 2 };
    const up = resizeNearest(labels, 4, 4);
    expect([...up.data]).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    const down = resizeNearest({ data: Uint32Array.from(Array(16).keys()), height: 4, width: 4 }, 2, 2);
    expect([...down.data]).toEqual([5, 7, 13, 15]); // rows/cols floor((2o + 1) * 4 / 4) = 1, 3
  });

  it('never invents a label, for many sizes', () => {
    const src: Labels = {
      data: Uint32Array.from(noise(11 * 17, 5), (v) => Math.floor(v * 9) * 1000 + 1),
      height: 11,
      width: 17,
    };
    const present = new Set(src.data);
    for (let h = 1; h <= 30; h += 7) {
      for (let w = 1; w <= 40; w += 9) {
        for (const v of resizeNearest(src, h, w).data) expect(present.has(v)).toBe(true);
      }
    }
  });

  it('rejects bad sizes', () => {
    const labels: Labels = { data: new Uint32Array(4), height: 2, width: 2 };
    expectError(() => resizeNearest(labels, -1, 2), 'bad-argument', /-1x2/);
    expectError(() => resizeNearest({ ...labels, width: 3 }, 2, 2), 'shape-mismatch', /labels of size 2x3x1/);
  });
});

describe('rescaleByMpp', () => {
  it('scales by fromMpp / toMpp, rounding the size', () => {
    const src = image(10, 4, 1, noise(40));
    expect(rescaleByMpp(src, 0.5, 0.25)).toMatchObject({ height: 20, width: 8 });
    expect(rescaleByMpp(src, 0.65, 0.5)).toMatchObject({ height: 13, width: 5 });
    expect(rescaleByMpp(src, 1, 100)).toMatchObject({ height: 1, width: 1 });
    expect([...rescaleByMpp(src, 0.5, 0.5).data]).toEqual([...src.data]);
    const labels: Labels = { data: Uint32Array.of(1, 2, 3, 4), height: 2, width: 2 };
    expect([...rescaleLabelsByMpp(labels, 1, 0.5).data]).toEqual([...resizeNearest(labels, 4, 4).data]);
  });

  it('rejects non-positive or non-finite pixel sizes and oversized results', () => {
    const src = image(2, 2, 1, [0, 1, 2, 3]);
    for (const bad of [0, -0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectError(() => rescaleByMpp(src, bad, 0.5), 'bad-argument', /'fromMpp' must be a positive finite/);
      expectError(() => rescaleByMpp(src, 0.5, bad), 'bad-argument', /'toMpp' must be a positive finite/);
    }
    expectError(
      () => rescaleByMpp(src, 1e6, 1),
      'too-many-pixels',
      /2x2x1 from 1000000 to 1 .*2000000x2000000x1/,
    );
    expectError(
      () => rescaleLabelsByMpp({ data: new Uint32Array(4), height: 2, width: 2 }, 1, 1e-9),
      'too-many-pixels',
      new RegExp(`more than ${MAX_RESIZE_VALUES}`),
    );
  });
});
