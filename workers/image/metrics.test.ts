import { describe, expect, it } from 'vitest';
import {
  DSB_THRESHOLDS,
  instanceOverlaps,
  matchAt,
  matchInstances,
  poolScores,
  scoreImage,
  type InstanceOverlaps,
} from './metrics.js';
import { diskLabels, randomDisks, type Disk } from './synthetic-nuclei.js';
import { ImageError, type Labels } from './types.js';

function grid(rows: string[]): Labels {
  const width = rows[0]!.length;
  const data = new Uint32Array(rows.length * width);
  rows.forEach((row, y) => [...row].forEach((c, x) => (data[y * width + x] = c === '.' ? 0 : Number(c))));
  return { data, height: rows.length, width };
}

describe('matchInstances / scoreImage on a hand-written case', () => {
  const truth = grid(['11..22', '11..22', '......', '33....']);
  const pred = grid(['11..2.', '11..2.', '.....4', '......']);
  // truth areas 1:4, 2:4, 3:2; pred areas 1:4, 2:2, 4:1.
  // (t1,p1): 4 common, IoU 4/4 = 1. (t2,p2): 2 common, union 4 + 2 - 2 = 4, IoU 0.5. t3, p4: no partner.
  it('lists overlapping pairs with their IoU and matches at 0.5 (threshold inclusive)', () => {
    const m = matchInstances(pred, truth);
    expect(m.pairs).toEqual([
      { truth: 1, pred: 1, iou: 1 },
      { truth: 2, pred: 2, iou: 0.5 },
    ]);
    expect(m.matches).toEqual(m.pairs);
    expect([m.tp, m.fp, m.fn, m.nTruth, m.nPred]).toEqual([2, 1, 1, 3, 3]);
    expect(matchInstances(pred, truth, 0.55).matches).toEqual([{ truth: 1, pred: 1, iou: 1 }]);
  });
  it('scores: at 0.5 tp 2 fp 1 fn 1; at 0.55..0.95 tp 1 fp 2 fn 2; dsb = (2/4 + 9 * 1/5) / 10 = 0.23', () => {
    const s = scoreImage(pred, truth);
    expect(s.byThreshold.map((t) => t.threshold)).toEqual([
      0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
    ]);
    expect(s.byThreshold[0]).toEqual({
      threshold: 0.5,
      tp: 2,
      fp: 1,
      fn: 1,
      precision: 2 / 3,
      recall: 2 / 3,
      f1: 2 / 3,
      accuracy: 0.5,
    });
    for (const t of s.byThreshold.slice(1)) expect([t.tp, t.fp, t.fn, t.accuracy]).toEqual([1, 2, 2, 0.2]);
    expect(s.dsb).toBeCloseTo(0.23, 12);
    expect([s.precision_50, s.recall_50, s.f1_50]).toEqual([2 / 3, 2 / 3, 2 / 3]);
    expect([s.nTruth, s.nPred]).toEqual([3, 3]);
  });
  it('identical images score 1 everywhere; ids need not match or be sequential', () => {
    const renamed = { ...truth, data: truth.data.map((v) => (v ? 1000 + 7 * v : 0)) };
    const s = scoreImage(renamed, truth);
    expect([s.dsb, s.f1_50, s.precision_50, s.recall_50]).toEqual([1, 1, 1, 1]);
  });
  it('reports figures at 0.5 even when 0.5 is not among the thresholds', () => {
    const s = scoreImage(pred, truth, [0.9]);
    expect(s.byThreshold.length).toBe(1);
    expect(s.dsb).toBe(0.2);
    expect(s.f1_50).toBe(2 / 3);
  });
});

describe('empty cases (a ratio with denominator 0 is 1)', () => {
  const empty = grid(['...', '...']);
  const one = grid(['1..', '...']);
  it('no truth and no prediction → perfect', () => {
    const s = scoreImage(empty, empty);
    expect([s.dsb, s.precision_50, s.recall_50, s.f1_50, s.at50.tp, s.at50.fp, s.at50.fn]).toEqual([
      1, 1, 1, 1, 0, 0, 0,
    ]);
  });
  it('predictions but no truth → precision 0, recall 1, F1 0, DSB 0', () => {
    const s = scoreImage(one, empty);
    expect([s.dsb, s.precision_50, s.recall_50, s.f1_50, s.at50.fp]).toEqual([0, 0, 1, 0, 1]);
  });
  it('truth but no predictions → precision 1, recall 0, F1 0, DSB 0', () => {
    const s = scoreImage(empty, one);
    expect([s.dsb, s.precision_50, s.recall_50, s.f1_50, s.at50.fn]).toEqual([0, 1, 0, 0, 1]);
  });
});

describe('matchAt: optimal, not greedy', () => {
  // truth A(0), B(1); pred X(0), Y(1). IoU A-X 0.6, A-Y 0.4, B-X 0.4. Greedy at 0.3 takes A-X (best IoU)
  // and leaves B without a partner: 1 match. The optimum is A-Y + B-X: 2 matches.
  const overlaps: InstanceOverlaps = {
    truthIds: Uint32Array.from([10, 20]),
    predIds: Uint32Array.from([1, 2]),
    pairs: [
      { truth: 0, pred: 0, iou: 0.6 },
      { truth: 0, pred: 1, iou: 0.4 },
      { truth: 1, pred: 0, iou: 0.4 },
    ],
  };
  it('maximizes the number of matches at the threshold', () => {
    expect(matchAt(overlaps, 0.3).matches).toEqual([
      { truth: 10, pred: 2, iou: 0.4 },
      { truth: 20, pred: 1, iou: 0.4 },
    ]);
  });
  it('only pairs at or above the threshold count', () => {
    expect(matchAt(overlaps, 0.5).matches).toEqual([{ truth: 10, pred: 1, iou: 0.6 }]);
    expect(matchAt(overlaps, 0.61).tp).toBe(0);
  });
  it('among equally many matches, takes the larger total IoU', () => {
    const o: InstanceOverlaps = {
      truthIds: Uint32Array.from([1, 2]),
      predIds: Uint32Array.from([1, 2]),
      pairs: [
        { truth: 0, pred: 0, iou: 0.35 },
        { truth: 0, pred: 1, iou: 0.45 },
        { truth: 1, pred: 0, iou: 0.45 },
        { truth: 1, pred: 1, iou: 0.3 },
      ],
    };
    expect(matchAt(o, 0.3).matches.map((m) => [m.truth, m.pred])).toEqual([
      [1, 2],
      [2, 1],
    ]);
  });
});

/** Pixels in disk a, in disk b, and in both, counted straight from the disk equations. */
function countDisks(a: Disk, b: Disk): { inA: number; inB: number; both: number } {
  let inA = 0;
  let inB = 0;
  let both = 0;
  for (let y = -100; y < 300; y++)
    for (let x = -100; x < 300; x++) {
      const ia = (y - a.cy) ** 2 + (x - a.cx) ** 2 <= a.r * a.r;
      const ib = (y - b.cy) ** 2 + (x - b.cx) ** 2 <= b.r * b.r;
      inA += +ia;
      inB += +ib;
      both += +(ia && ib);
    }
  return { inA, inB, both };
}
/** Continuous IoU of two radius-r disks whose centres are d apart (lens area over union). */
const lensIoU = (r: number, d: number): number => {
  const lens = 2 * r * r * Math.acos(d / (2 * r)) - (d / 2) * Math.sqrt(4 * r * r - d * d);
  return lens / (2 * Math.PI * r * r - lens);
};

describe('generated scenes: N disks vs the same disks shifted by k px', () => {
  const H = 220;
  const W = 220;
  const r = 10;
  const disks = randomDisks(25, H, W, { minR: r, maxR: r, spacing: 1.4, seed: 2 }).filter(
    (d) => d.cx + 8 + r < W, // room for the shift
  );
  const truth = diskLabels(disks, H, W);
  for (const k of [1, 2, 4, 8]) {
    it(`shift ${k}: every IoU equals the pixel count; DSB counts the thresholds below it`, () => {
      const moved = disks.map((d) => ({ ...d, cx: d.cx + k }));
      const pred = diskLabels(moved, H, W);
      const { inA, inB, both } = countDisks(disks[0]!, moved[0]!);
      const expected = both / (inA + inB - both);
      expect(expected).toBeCloseTo(lensIoU(r, k), 1);
      const m = matchInstances(pred, truth, 0.1);
      expect(m.pairs.length).toBe(disks.length);
      for (const p of m.pairs) {
        expect(p.pred).toBe(p.truth);
        expect(p.iou).toBeCloseTo(expected, 12);
      }
      const s = scoreImage(pred, truth);
      const passing = DSB_THRESHOLDS.filter((t) => expected >= t).length;
      expect(s.dsb).toBeCloseTo(passing / 10, 12);
      expect(s.f1_50).toBe(expected >= 0.5 ? 1 : 0);
      expect(s.at50.tp).toBe(expected >= 0.5 ? disks.length : 0);
    });
  }
  it('shift 2 keeps IoU ~0.77 (6 thresholds pass), shift 8 drops below 0.5', () => {
    expect(
      scoreImage(
        diskLabels(
          disks.map((d) => ({ ...d, cx: d.cx + 2 })),
          H,
          W,
        ),
        truth,
      ).dsb,
    ).toBeCloseTo(0.6, 12);
    expect(
      scoreImage(
        diskLabels(
          disks.map((d) => ({ ...d, cx: d.cx + 8 })),
          H,
          W,
        ),
        truth,
      ).dsb,
    ).toBe(0);
  });
});

describe('poolScores', () => {
  const a = scoreImage(grid(['11..2.', '11..2.']), grid(['11..22', '11..22'])); // tp 2 at 0.5, 1 above
  const b = scoreImage(grid(['....', '..3.']), grid(['....', '....'])); // 1 fp, no truth
  it('sums tp/fp/fn per threshold, then applies the formulas; also averages per-image figures', () => {
    const p = poolScores([a, b]);
    expect(p.nImages).toBe(2);
    expect([p.nTruth, p.nPred]).toEqual([2, 3]);
    // at 0.5: tp 2, fp 0 + 1, fn 0 → precision 2/3, recall 1, f1 4/5, accuracy 2/3
    expect([p.at50.tp, p.at50.fp, p.at50.fn]).toEqual([2, 1, 0]);
    expect([p.precision_50, p.recall_50, p.f1_50]).toEqual([2 / 3, 1, 4 / 5]);
    // above 0.5: tp 1, fp 1 + 1, fn 1 → accuracy 1/4; dsb = (2/3 + 9/4) / 10
    expect(p.dsb).toBeCloseTo((2 / 3 + 9 / 4) / 10, 12);
    // per image: a has f1_50 1, dsb (1 + 9/3)/10 = 0.4; b has f1_50 0, dsb 0.
    expect(a.dsb).toBeCloseTo(0.4, 12);
    expect(p.meanPerImage.f1_50).toBe(0.5);
    expect(p.meanPerImage.dsb).toBeCloseTo(0.2, 12);
  });
  it('throws for no images and for images scored at different thresholds', () => {
    expect(() => poolScores([])).toThrow(/at least one image/);
    const c = scoreImage(grid(['1']), grid(['1']), [0.5, 0.7]);
    expect(() => poolScores([a, c])).toThrow(
      /image 1 was scored at thresholds \[0.5, 0.7\] but image 0 at \[0.5, 0.55/,
    );
  });
});

describe('metric errors', () => {
  const l = grid(['1.', '.2']);
  it('different shapes → shape-mismatch naming both', () => {
    try {
      scoreImage(grid(['1..']), l);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ImageError);
      expect((e as ImageError).code).toBe('shape-mismatch');
      expect((e as ImageError).message).toBe(
        'pred has shape [1, 3] but truth has shape [2, 2]; they must match',
      );
    }
    expect(() => matchInstances(grid(['1..']), l)).toThrow(/shape/);
    expect(() => instanceOverlaps(l, { data: new Uint32Array(3), height: 2, width: 2 })).toThrow(/3 values/);
  });
  it('thresholds outside (0, 1] or an empty list → bad-argument', () => {
    expect(() => scoreImage(l, l, [])).toThrow(/non-empty list/);
    expect(() => scoreImage(l, l, [0.5, 1.2])).toThrow(/IoU threshold must be in \(0, 1\], got 1.2/);
    expect(() => matchInstances(l, l, 0)).toThrow(/got 0/);
    expect(() => matchAt(instanceOverlaps(l, l), NaN)).toThrow(ImageError);
  });
});
