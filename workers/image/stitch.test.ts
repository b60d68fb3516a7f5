import { describe, expect, it } from 'vitest';
import { scoreImage } from './metrics.js';
import { stitchSlices, volumeAsLabels, volumeSlice } from './stitch.js';
import { ellipsoidLabels, randomEllipsoids, seededRandom } from './synthetic-nuclei.js';
import type { Labels } from './types.js';
import { labelsOf } from './grids.test-helpers.js';

describe('stitchSlices', () => {
  it('links an object across slices whatever its per-slice id, and starts new ids for new objects', () => {
    const v = stitchSlices([
      labelsOf([
        [5, 5, 0, 0],
        [5, 5, 0, 0],
      ]),
      labelsOf([
        [2, 2, 0, 7],
        [2, 0, 0, 7],
      ]),
      labelsOf([
        [0, 9, 0, 3],
        [0, 9, 0, 3],
      ]),
    ]);
    expect(Array.from(volumeSlice(v, 0).data)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    expect(Array.from(volumeSlice(v, 1).data)).toEqual([1, 1, 0, 2, 1, 0, 0, 2]);
    // 9 overlaps 1 with IoU 1/4 (the default threshold: linked); 3 continues 2
    expect(Array.from(volumeSlice(v, 2).data)).toEqual([0, 1, 0, 2, 0, 1, 0, 2]);
  });

  it('does not link below the IoU threshold, and one object continues into its best partner only', () => {
    const slices = [
      labelsOf([[1, 1, 1, 1, 0, 0]]),
      labelsOf([[4, 4, 4, 6, 0, 8]]), // 4 overlaps 1 at 3/4, 6 at 1/4: only 4 continues 1
    ];
    const v = stitchSlices(slices, { threshold: 0.2 });
    expect(Array.from(volumeSlice(v, 1).data)).toEqual([1, 1, 1, 2, 0, 3]);
    const strict = stitchSlices(slices, { threshold: 0.8, containment: false });
    expect(Array.from(volumeSlice(strict, 1).data)).toEqual([2, 2, 2, 3, 0, 4]);
  });

  it("links a nucleus' tip (small patch inside the next section) by containment, not by IoU", () => {
    const slices = [labelsOf([[0, 0, 3, 0, 0, 0]]), labelsOf([[1, 1, 1, 1, 1, 0]])]; // IoU 1/5, wholly inside
    expect(Array.from(volumeSlice(stitchSlices(slices), 1).data)).toEqual([1, 1, 1, 1, 1, 0]);
    const iouOnly = stitchSlices(slices, { containment: false });
    expect(Array.from(volumeSlice(iouOnly, 1).data)).toEqual([2, 2, 2, 2, 2, 0]);
  });

  it('rebuilds a synthetic stack of ellipsoids from independently numbered slices (F1 1 at 3-D IoU 0.5)', () => {
    const [Z, H, W] = [24, 96, 96];
    const truth = ellipsoidLabels(
      randomEllipsoids(40, Z, H, W, { minR: 6, maxR: 10, zScale: 0.6, seed: 3 }),
      Z,
      H,
      W,
    );
    const rand = seededRandom(9);
    const slices: Labels[] = [];
    for (let z = 0; z < Z; z++) {
      const s = volumeSlice(truth, z);
      const renumber = new Map<number, number>();
      const data = s.data.map((id) => {
        if (!id) return 0;
        if (!renumber.has(id)) renumber.set(id, 1 + Math.floor(rand() * 1e6));
        return renumber.get(id)!;
      });
      slices.push({ data, height: H, width: W });
    }
    const got = stitchSlices(slices);
    const score = scoreImage(volumeAsLabels(got), volumeAsLabels(truth));
    expect(score.nTruth).toBeGreaterThan(20);
    expect(score.nPred).toBe(score.nTruth);
    expect(score.f1_50).toBe(1);
    expect(score.dsb).toBe(1);
  });

  it('refuses slices of different sizes, no slices and a bad threshold', () => {
    expect(() => stitchSlices([])).toThrow(/at least one slice/);
    expect(() => stitchSlices([labelsOf([[1]]), labelsOf([[1, 1]])])).toThrow(
      /slice 1 is 1x2 but slice 0 is 1x1/,
    );
    expect(() => stitchSlices([labelsOf([[1]])], { threshold: 0 })).toThrow(
      /'threshold' must be in \(0, 1\]; got 0/,
    );
  });
});
