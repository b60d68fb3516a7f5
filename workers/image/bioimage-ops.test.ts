import { describe, expect, it } from 'vitest';
import {
  applyBioimageOps,
  binarize,
  boundaryWatershed,
  clip,
  distanceTransform,
  ensureDtype,
  fixedZeroMeanUnitVariance,
  foregroundWatershed,
  scaleLinear,
  scaleRange,
  sigmoid,
  zeroMeanUnitVariance,
} from './bioimage-ops.js';
import { diskLabels } from './synthetic-nuclei.js';
import { expectError, image } from './test-helpers.js';

const values = (im: { data: Float32Array }): number[] => [...im.data];

describe('bioimage.io pre/post-processing ops (hand-computed values)', () => {
  it('zero_mean_unit_variance: (x - mean) / (std + eps), population std', () => {
    // [1, 2, 3, 4]: mean 2.5, std sqrt(1.25) = 1.1180340
    const out = zeroMeanUnitVariance(image(2, 2, 1, [1, 2, 3, 4]), { eps: 0 });
    const s = Math.sqrt(1.25);
    values(out).forEach((v, i) => expect(v).toBeCloseTo(([1, 2, 3, 4][i]! - 2.5) / s, 6));
    expect(out.data[0]).toBeCloseTo(-1.3416408, 6);
    // eps enlarges the denominator: (1 - 2.5) / (1.1180340 + 0.5) = -0.9270510
    expect(zeroMeanUnitVariance(image(2, 2, 1, [1, 2, 3, 4]), { eps: 0.5 }).data[0]).toBeCloseTo(
      -0.927051,
      5,
    );
  });

  it('zero_mean_unit_variance per channel vs over all channels', () => {
    // pixels (0, 10) and (2, 20): ch0 [0, 2] mean 1 std 1; ch1 [10, 20] mean 15 std 5
    const im = image(1, 2, 2, [0, 10, 2, 20]);
    expect(values(zeroMeanUnitVariance(im, { perChannel: true, eps: 0 }))).toEqual([-1, -1, 1, 1]);
    // all four values: mean 8, std sqrt(62) = 7.8740079
    const all = zeroMeanUnitVariance(im, { perChannel: false, eps: 0 });
    expect(all.data[0]).toBeCloseTo(-8 / Math.sqrt(62), 6);
    expect(all.data[3]).toBeCloseTo(12 / Math.sqrt(62), 6);
  });

  it('fixed_zero_mean_unit_variance with per-channel mean and std', () => {
    const out = fixedZeroMeanUnitVariance(image(1, 1, 2, [3, 10]), { mean: [1, 2], std: [2, 4], eps: 0 });
    expect(values(out)).toEqual([1, 2]);
    expectError(
      () => fixedZeroMeanUnitVariance(image(1, 1, 2, [3, 10]), { mean: [1], std: 1 }),
      'bad-argument',
      /'mean' must be a number or 2 numbers/,
    );
  });

  it('scale_range: (x - p_low) / (p_high - p_low + eps) with numpy linear percentiles', () => {
    // 0..10: the 10th percentile is 1, the 90th is 9 (index (n-1)·p exactly on a value)
    const im = image(1, 11, 1, [...Array(11).keys()]);
    const out = scaleRange(im, { minPercentile: 10, maxPercentile: 90, eps: 0 });
    expect(out.data[1]).toBeCloseTo(0, 7);
    expect(out.data[5]).toBeCloseTo(0.5, 7);
    expect(out.data[9]).toBeCloseTo(1, 7);
    expect(out.data[0]).toBeCloseTo(-0.125, 7);
    // between values: the 25th percentile of [0, 10] is 2.5; the 75th 7.5 → x=5 maps to 0.5, x=10 to 1.5
    const two = scaleRange(image(1, 2, 1, [0, 10]), { minPercentile: 25, maxPercentile: 75, eps: 0 });
    expect(values(two)).toEqual([-0.5, 1.5]);
    // eps 1: (10 - 2.5) / (5 + 1) = 1.25
    expect(
      scaleRange(image(1, 2, 1, [0, 10]), { minPercentile: 25, maxPercentile: 75, eps: 1 }).data[1],
    ).toBeCloseTo(1.25, 7);
    expectError(
      () => scaleRange(im, { minPercentile: 50, maxPercentile: 40 }),
      'bad-argument',
      /min_percentile < max_percentile/,
    );
  });

  it('scale_linear, clip, binarize, sigmoid', () => {
    expect(values(scaleLinear(image(1, 1, 2, [1, 1]), { gain: [2, 3], offset: [1, -1] }))).toEqual([3, 2]);
    expect(values(scaleLinear(image(1, 2, 1, [1, -2]), { gain: 0.5, offset: 1 }))).toEqual([1.5, 0]);
    expect(values(clip(image(1, 3, 1, [-5, 0.5, 7]), { min: 0, max: 1 }))).toEqual([0, 0.5, 1]);
    expect(values(clip(image(1, 2, 1, [-5, 7]), { max: 1 }))).toEqual([-5, 1]);
    expect(values(binarize(image(1, 3, 1, [0.2, 0.5, 0.7]), { threshold: 0.5 }))).toEqual([0, 0, 1]);
    expect(values(binarize(image(1, 1, 2, [0.3, 0.3]), { threshold: [0.2, 0.4] }))).toEqual([1, 0]);
    const sg = sigmoid(image(1, 3, 1, [0, Math.log(3), -Math.log(3)]));
    expect(sg.data[0]).toBe(0.5);
    expect(sg.data[1]).toBeCloseTo(0.75, 7);
    expect(sg.data[2]).toBeCloseTo(0.25, 7);
    expectError(
      () => clip(image(1, 1, 1, [0]), { min: 2, max: 1 }),
      'bad-argument',
      /'min' must be <= 'max'/,
    );
  });

  it('ensure_dtype truncates toward zero and clamps to the type; refuses unknown types', () => {
    expect(values(ensureDtype(image(1, 3, 1, [-3.7, 2.9, 300]), 'uint8'))).toEqual([0, 2, 255]);
    expect(values(ensureDtype(image(1, 2, 1, [-3.7, 200]), 'int8'))).toEqual([-3, 127]);
    expect(values(ensureDtype(image(1, 1, 1, [2.5]), 'float32'))).toEqual([2.5]);
    expectError(
      () => ensureDtype(image(1, 1, 1, [1]), 'complex64'),
      'bad-argument',
      /'dtype' must be one of/,
    );
  });

  it('applyBioimageOps runs the steps in order; non-finite input is refused naming the op', () => {
    const out = applyBioimageOps(image(1, 2, 1, [0, 10]), [
      { op: 'scale_linear', gain: 0.1, offset: -0.5 },
      { op: 'clip', min: 0 },
      { op: 'binarize', threshold: 0.25 },
    ]);
    expect(values(out)).toEqual([0, 1]);
    expectError(() => sigmoid(image(1, 1, 1, [NaN])), 'bad-argument', /sigmoid: pixel value NaN/);
  });
});

describe('distanceTransform (exact Euclidean)', () => {
  it('gives the distance to the nearest background pixel', () => {
    expect([...distanceTransform(Uint8Array.from([0, 1, 1, 1, 0]), 1, 5)]).toEqual([0, 1, 2, 1, 0]);
    // 3x3 all foreground but the centre: edge neighbours 1, corners sqrt(2)
    const d = distanceTransform(Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1]), 3, 3);
    expect(d[0]).toBeCloseTo(Math.SQRT2, 6);
    expect(d[1]).toBe(1);
    expect(d[4]).toBe(0);
    // a knight's move away: sqrt(5)
    const k = new Uint8Array(5 * 5).fill(1);
    k[0] = 0;
    expect(distanceTransform(k, 5, 5)[1 * 5 + 2]).toBeCloseTo(Math.sqrt(5), 6);
    expect(distanceTransform(Uint8Array.from([1, 1]), 1, 2)[0]).toBe(Infinity);
  });
});

describe('labels from an imported model output', () => {
  it('foreground → threshold + distance-transform watershed splits two touching disks', () => {
    const truth = diskLabels(
      [
        { cy: 20, cx: 15, r: 8 },
        { cy: 20, cx: 30, r: 8 },
      ],
      40,
      48,
    );
    const fg = { data: Float32Array.from(truth.data, (v) => (v ? 0.9 : 0.1)), height: 40, width: 48 };
    const labels = foregroundWatershed(fg, { threshold: 0.5, minDistance: 4, minSize: 10 });
    const ids = new Set(labels.data);
    ids.delete(0);
    expect(ids.size).toBe(2);
    expect(labels.data[20 * 48 + 15]).not.toBe(labels.data[20 * 48 + 30]);
    // every foreground pixel is labelled, no background pixel is
    for (let i = 0; i < truth.data.length; i++) expect(labels.data[i] !== 0).toBe(truth.data[i] !== 0);
  });

  it('foreground + boundaries → seeded watershed splits on the boundary line', () => {
    const h = 10;
    const w = 21;
    const fg = { data: new Float32Array(h * w).fill(0.9), height: h, width: w };
    const boundary = { data: new Float32Array(h * w), height: h, width: w };
    for (let y = 0; y < h; y++) boundary.data[y * w + 10] = 0.95;
    const labels = boundaryWatershed(fg, boundary, { minSize: 5 });
    expect(new Set(labels.data)).toEqual(new Set([1, 2]));
    expect(labels.data[0]).not.toBe(labels.data[w - 1]);
    expectError(
      () => boundaryWatershed(fg, { ...boundary, width: 5 }, {}),
      'shape-mismatch',
      /boundary 10x5/,
    );
  });
});
