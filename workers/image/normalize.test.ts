import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { histogramNormalize, percentileNormalize, percentiles } from './normalize.js';
import { expectError, image, noise } from './test-helpers.js';
import type { Image } from './types.js';

function python(script: string, input: unknown): unknown {
  const py = spawnSync('/usr/bin/python3', ['-c', script], {
    input: JSON.stringify(input),
    maxBuffer: 1 << 26,
  });
  expect(py.status, py.stderr?.toString()).toBe(0);
  return JSON.parse(py.stdout.toString());
}

/** Mean over non-overlapping b x b blocks left of column `xEnd` of the block's standard deviation. */
function meanBlockStd(img: Image, b: number, xEnd: number): number {
  let sum = 0;
  let blocks = 0;
  for (let y0 = 0; y0 + b <= img.height; y0 += b) {
    for (let x0 = 0; x0 + b <= xEnd; x0 += b) {
      let s = 0;
      let s2 = 0;
      for (let y = y0; y < y0 + b; y++) {
        for (let x = x0; x < x0 + b; x++) {
          const v = img.data[y * img.width + x] as number;
          s += v;
          s2 += v * v;
        }
      }
      const m = s / (b * b);
      sum += Math.sqrt(Math.max(0, s2 / (b * b) - m * m));
      blocks++;
    }
  }
  return sum / blocks;
}

describe('percentiles', () => {
  it('of 1..100 (shuffled) are numpy linear percentiles: p1 = 1.99, p99.8 = 99.802', () => {
    const values = Float32Array.from(
      noise(100, 4)
        .map((r, i) => ({ r, v: i + 1 }))
        .sort((a, b) => a.r - b.r),
      (o) => o.v,
    );
    const [lo, hi] = percentiles(values, 1, 99.8);
    expect(lo).toBeCloseTo(1.99, 10);
    expect(hi).toBeCloseTo(99.802, 10);
    expect(percentiles(Float32Array.of(4, 1, 3, 2), 50, 100)).toEqual([2.5, 4]);
    expect(percentiles(Float32Array.of(7), 0, 100)).toEqual([7, 7]);
  });

  it('match numpy.percentile on sorted, reversed, tied, random and outlier-dominated data', () => {
    const cases = [
      [...Array(1000).keys()],
      [...Array(1000).keys()].reverse(),
      Array.from({ length: 5000 }, (_, i) => (i * 7919) % 13), // heavy ties
      noise(4097, 9).map((v) => Math.round(v * 65535)),
      noise(3001, 2).map((v) => v * 1e-3 - 0.5),
      Array(500).fill(3),
      [...noise(3000, 8).map((v) => v * 1e-3), 1e6, -1e6], // nearly all values in one histogram bin
    ];
    const qs = [0, 1, 2.5, 50, 99, 99.8, 100];
    const ref = python(
      `import json, sys, numpy as np
d = json.load(sys.stdin)
print(json.dumps([np.percentile(np.array(c, dtype=np.float32).astype(np.float64), d["q"]).tolist() for c in d["cases"]]))`,
      { cases, q: qs },
    ) as number[][];
    cases.forEach((c, i) => {
      for (let j = 0; j + 1 < qs.length; j++) {
        const [lo, hi] = percentiles(Float32Array.from(c), qs[j] as number, qs[j + 1] as number);
        expect(lo).toBeCloseTo(ref[i]![j] as number, 9);
        expect(hi).toBeCloseTo(ref[i]![j + 1] as number, 9);
      }
    });
  });
});

describe('percentileNormalize', () => {
  it('maps p1 → 0 and p99.8 → 1 per channel, without clipping by default', () => {
    const src = image(
      10,
      10,
      1,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    const out = percentileNormalize(src);
    const f = (v: number): number => (v - 1.99) / (99.802 - 1.99);
    for (const v of [1, 2, 50, 99, 100]) expect(out.data[v - 1]).toBeCloseTo(f(v), 6);
    expect(out.data[0]).toBeLessThan(0);
    expect(out.data[99]).toBeGreaterThan(1);
    const clipped = percentileNormalize(src, { clip: true });
    expect(clipped.data[0]).toBe(0);
    expect(clipped.data[99]).toBe(1);
    expect(clipped.data[49]).toBeCloseTo(f(50), 6);
  });

  it('treats channels independently; a constant channel becomes zeros', () => {
    // channel 0: 0..99, channel 1: constant 5, channel 2: 100 * channel 0 + 7
    const values = Array.from({ length: 300 }, (_, i) => {
      const p = Math.floor(i / 3);
      return [p, 5, 100 * p + 7][i % 3] as number;
    });
    const out = percentileNormalize(image(10, 10, 3, values), { low: 0, high: 100 });
    for (let p = 0; p < 100; p++) {
      expect(out.data[p * 3]).toBeCloseTo(p / 99, 6);
      expect(out.data[p * 3 + 1]).toBe(0);
      expect(out.data[p * 3 + 2]).toBeCloseTo(p / 99, 6);
    }
  });

  it('falls back to min-max when p_low == p_high on a sparse, non-constant channel', () => {
    // 2000 pixels, two bright: p1 = p99.8 = 0 (sorted positions 19.99 and 1995.002 are both 0).
    const values = new Array<number>(2000).fill(0);
    values[123] = 10;
    values[456] = 5;
    const out = percentileNormalize(image(40, 50, 1, values));
    expect(out.data[123]).toBe(1);
    expect(out.data[456]).toBe(0.5);
    expect(out.data[0]).toBe(0);
  });

  it('handles a 1x1 image and keeps the input unchanged', () => {
    expect([...percentileNormalize(image(1, 1, 1, [42])).data]).toEqual([0]);
    const src = image(2, 2, 1, [4, 3, 2, 1]);
    percentileNormalize(src);
    expect([...src.data]).toEqual([4, 3, 2, 1]);
  });

  it('rejects non-finite pixels naming where, bad percentiles and malformed images', () => {
    const values = Array.from({ length: 12 }, (_, i) => i);
    values[7] = Number.NaN; // pixel 3 (row 1, column 0), channel 1 in a 2x3x2 image
    expectError(
      () => percentileNormalize(image(2, 3, 2, values)),
      'bad-argument',
      /NaN\) at row 1, column 0, channel 1/,
    );
    values[7] = Number.POSITIVE_INFINITY;
    expectError(() => percentileNormalize(image(2, 3, 2, values)), 'bad-argument', /Infinity/);
    const ok = image(2, 2, 1, [1, 2, 3, 4]);
    for (const [low, high] of [
      [50, 50],
      [-1, 50],
      [1, 101],
      [Number.NaN, 50],
      [60, 40],
    ] as const) {
      expectError(
        () => percentileNormalize(ok, { low, high }),
        'bad-argument',
        new RegExp(`low ${low}, high ${high}`),
      );
    }
    expectError(
      () => percentileNormalize(image(2, 2, 1, [1, 2, 3])),
      'shape-mismatch',
      /2x2x1 needs 4 values, has 3/,
    );
    expectError(() => percentileNormalize({ ...ok, width: 0 }), 'bad-argument', /2x0x1 must be positive/);
  });
});

describe('histogramNormalize (CLAHE)', () => {
  /**
   * A 16-bit scene with a dim left half (background 800, nuclei 1100) and a bright right half (background
   * 20000, nuclei 45000): after a global stretch the dim nuclei differ from their background by < 1%.
   */
  function dimAndBright(h: number, w: number): Image {
    const r = noise(h * w, 21);
    return image(
      h,
      w,
      1,
      Array.from({ length: h * w }, (_, i) => {
        const y = Math.floor(i / w);
        const x = i % w;
        const inNucleus = ((x % 16) - 7.5) ** 2 + ((y % 16) - 7.5) ** 2 <= 16;
        const dim = x < w / 2;
        const level = dim ? (inNucleus ? 1100 : 800) : inNucleus ? 45000 : 20000;
        return Math.round(level + 20 * (r[i] as number));
      }),
    );
  }

  it('outputs values in [0, 1] spanning the whole range, per channel', () => {
    const src = image(
      33,
      47,
      2,
      noise(33 * 47 * 2, 5).map((v) => v * 4000),
    );
    const out = histogramNormalize(src);
    for (let ch = 0; ch < 2; ch++) {
      const vals = out.data.filter((_, i) => i % 2 === ch);
      expect(Math.min(...vals)).toBe(0);
      expect(Math.max(...vals)).toBe(1);
    }
  });

  it('raises local contrast in the dim half of a 16-bit image, more as the clip limit rises', () => {
    // The clip limit caps each mapping's slope near clipLimit * nbins times a linear stretch (2.56 at the
    // defaults), so the default gain is modest; 0 (no clipping, plain AHE) is unbounded.
    const src = dimAndBright(128, 128);
    const before = meanBlockStd(percentileNormalize(src, { low: 0, high: 100 }), 16, 64);
    expect(before).toBeLessThan(0.005);
    const gain = (clipLimit: number): number =>
      meanBlockStd(histogramNormalize(src, { kernelSize: 32, clipLimit }), 16, 64) / before;
    const [g01, g05, g10, ahe] = [gain(0.01), gain(0.05), gain(0.1), gain(0)];
    expect(g01).toBeGreaterThan(1.2);
    expect(g05).toBeGreaterThan(2 * g01);
    expect(g10).toBeGreaterThan(10);
    expect(ahe).toBeGreaterThan(30);
  });

  it('equals DeepCell histogram_normalization (rescale_intensity → skimage equalize_adapthist) exactly', () => {
    const cases = [
      { h: 37, w: 50, kernelSize: null, clipLimit: 0.01, nbins: 256 },
      { h: 20, w: 33, kernelSize: 7, clipLimit: 0.05, nbins: 64 },
      { h: 30, w: 45, kernelSize: [5, 9], clipLimit: 0, nbins: 1000 },
      { h: 5, w: 3, kernelSize: null, clipLimit: 0.01, nbins: 256 },
    ];
    const data = cases.map(({ h, w }, i) =>
      noise(h * w, 30 + i).map((v, j) => Math.floor(1000 + 300 * v + 200 * Math.sin(j / 9))),
    );
    const ref = python(
      `import json, sys, numpy as np
from skimage.exposure import rescale_intensity, equalize_adapthist
d = json.load(sys.stdin)
out = []
for c, a in zip(d["cases"], d["data"]):
    x = rescale_intensity(np.array(a, dtype=np.float32).reshape(c["h"], c["w"]), out_range=(0.0, 1.0))
    out.append(equalize_adapthist(x, kernel_size=c["kernelSize"], clip_limit=c["clipLimit"], nbins=c["nbins"]).ravel().tolist())
print(json.dumps(out))`,
      { cases, data },
    ) as number[][];
    cases.forEach(({ h, w, kernelSize, clipLimit, nbins }, i) => {
      const opts = {
        clipLimit,
        nbins,
        ...(kernelSize === null ? {} : { kernelSize: kernelSize as number | [number, number] }),
      };
      const out = histogramNormalize(image(h, w, 1, data[i] as number[]), opts);
      expect([...out.data]).toEqual(ref[i]);
    });
  });

  it('gives zeros for a constant channel and works on a 1x1 image', () => {
    const values = Array.from({ length: 128 }, (_, i) => (i % 2 ? 9 : i));
    const out = histogramNormalize(image(8, 8, 2, values), { kernelSize: 4 });
    expect(out.data.filter((_, i) => i % 2 === 1).every((v) => v === 0)).toBe(true);
    expect(Math.max(...out.data.filter((_, i) => i % 2 === 0))).toBe(1);
    expect([...histogramNormalize(image(1, 1, 1, [3])).data]).toEqual([0]);
  });

  it('rejects bad options and non-finite pixels', () => {
    const ok = image(4, 4, 1, [...Array(16).keys()]);
    expectError(() => histogramNormalize(ok, { kernelSize: 0 }), 'bad-argument', /kernelSize .* got 0x0/);
    expectError(() => histogramNormalize(ok, { kernelSize: [2, 1.5] }), 'bad-argument', /got 2x1\.5/);
    expectError(
      () => histogramNormalize(ok, { kernelSize: [4, 5] }),
      'bad-argument',
      /4x5 must not exceed the 4x4/,
    );
    expectError(() => histogramNormalize(ok, { clipLimit: 1.5 }), 'bad-argument', /clipLimit .* got 1\.5/);
    expectError(() => histogramNormalize(ok, { clipLimit: -0.1 }), 'bad-argument', /got -0\.1/);
    expectError(() => histogramNormalize(ok, { nbins: 0 }), 'bad-argument', /nbins .* got 0/);
    expectError(() => histogramNormalize(ok, { nbins: 20000 }), 'bad-argument', /got 20000/);
    const values = [...Array(16).keys()];
    values[5] = Number.NEGATIVE_INFINITY;
    expectError(
      () => histogramNormalize(image(4, 4, 1, values)),
      'bad-argument',
      /-Infinity\) at row 1, column 1/,
    );
    expectError(() => histogramNormalize(image(4, 4, 1, [1])), 'shape-mismatch', /needs 16 values, has 1/);
  });
});
