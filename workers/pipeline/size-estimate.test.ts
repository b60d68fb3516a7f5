/**
 * The size-estimate flows of segmentImageDetailed (issue 22 #2: a cheap pass instead of a full one; issue 19
 * #2: a re-estimate from the instances for small, dense nuclei), with the precomputed-maps test double (the
 * network's maps are read off the scene, so only the flow is tested here; accuracy on real images is
 * bench/size-estimate.bench.ts').
 */
import { describe, expect, it } from 'vitest';
import { randomDisks, type Disk } from '../image/synthetic-nuclei.js';
import type { Labels } from '../image/types.js';
import { cheapPassScale, fgDiameter, rescaleForSmallInstances } from './scale.js';
import { segmentImageDetailed } from './segment.js';
import { PrecomputedMapsRunner, renderDistanceScene, testCard } from './testing/precomputed-maps-runner.js';

const H = 300;
const W = 340;
const big = randomDisks(14, H, W, { minR: 14, maxR: 14, spacing: 1.3, seed: 9 });
const small = randomDisks(20, H, W, { minR: 7, maxR: 7, spacing: 1.3, seed: 5 });

function diskLabels(disks: readonly Disk[], h: number, w: number): Labels {
  const data = new Uint32Array(h * w);
  disks.forEach(({ cy, cx, r }, k) => {
    for (let y = Math.max(0, cy - r); y <= Math.min(h - 1, cy + r); y++)
      for (let x = Math.max(0, cx - r); x <= Math.min(w - 1, cx + r); x++)
        if ((y - cy) ** 2 + (x - cx) ** 2 <= r * r) data[y * w + x] = k + 1;
  });
  return { data, height: h, width: w };
}

describe('size estimate: cheap pass (issue 22 #2)', () => {
  it('issue 22 #2: nuclei 2x the target are measured by a half-size pass, then ONE full pass at scale ~1/2', async () => {
    const runner = new PrecomputedMapsRunner();
    const [r] = await segmentImageDetailed(renderDistanceScene(big, H, W), runner, testCard(14), {
      tileSize: 128,
      sizeEstimate: 'cheap',
    });
    expect(r!.passes).toBe(1); // the old flow needs 2 full passes here (pipeline.test.ts)
    expect(r!.estimatePasses).toBe(1);
    expect(r!.scale).toBeGreaterThan(0.4);
    expect(r!.scale).toBeLessThan(0.55);
    expect(r!.estimatedDiameter! / 28).toBeGreaterThan(0.9);
    expect(r!.estimatedDiameter! / 28).toBeLessThan(1.3);
    // the cheap pass saw the 150x170 half-size image: 4 tiles of 128 px; the full pass at ~1/2 as many
    expect(runner.batches.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(8);
  });

  it('nuclei too small to read at half size: falls back to the full flow from scale 1', async () => {
    const [r] = await segmentImageDetailed(
      renderDistanceScene(small, H, W),
      new PrecomputedMapsRunner(),
      testCard(14),
      {
        tileSize: 128,
        sizeEstimate: 'cheap',
      },
    );
    expect(r!.estimatePasses).toBe(1);
    expect(r!.estimatedDiameter).toBeUndefined();
    expect(r!.passes).toBe(1);
    expect(r!.scale).toBe(1);
  });

  it('skipped when µm/px is given, and the default flow runs no cheap pass', async () => {
    const raw = renderDistanceScene(big, H, W);
    const [withMpp] = await segmentImageDetailed(raw, new PrecomputedMapsRunner(), testCard(14, 0.5), {
      mpp: 0.25,
      tileSize: 128,
      sizeEstimate: 'cheap',
    });
    expect(withMpp!.estimatePasses).toBeUndefined();
    expect([withMpp!.passes, withMpp!.scale]).toEqual([1, 0.5]);
    const [plain] = await segmentImageDetailed(raw, new PrecomputedMapsRunner(), testCard(14), {
      tileSize: 128,
    });
    expect(plain!.estimatePasses).toBeUndefined();
    expect(plain!.passes).toBe(2);
  });

  it('a bad sizeEstimate is refused with the values allowed', async () => {
    await expect(
      segmentImageDetailed(renderDistanceScene(big, H, W), new PrecomputedMapsRunner(), testCard(14), {
        sizeEstimate: 'fast' as 'cheap',
      }),
    ).rejects.toThrow(/'sizeEstimate' must be 'full' or 'cheap'; got "fast"/);
  });

  it('cheapPassScale halves, but keeps 64 px on the short side and never enlarges', () => {
    expect(cheapPassScale(512, 640)).toBe(0.5);
    expect(cheapPassScale(100, 400)).toBeCloseTo(0.64, 12);
    expect(cheapPassScale(40, 40)).toBe(1);
  });

  it('fgDiameter reads the size off a probability map in model px and returns it in image px', () => {
    const disks = [
      { cy: 20, cx: 20, r: 7 },
      { cy: 20, cx: 60, r: 7 },
      { cy: 60, cx: 40, r: 7 },
    ];
    const l = diskLabels(disks, 90, 90);
    const fg = { data: Float32Array.from(l.data, (v) => (v ? 0.9 : 0.1)), height: 90, width: 90 };
    const at1 = fgDiameter(fg, 1, 0.5)!;
    const at05 = fgDiameter(fg, 0.5, 0.5)!;
    expect(at1.components).toBe(3);
    expect(at05.diameter).toBeCloseTo(2 * at1.diameter, 9);
    expect(at05.modelDiameter).toBeCloseTo(at1.diameter, 9);
    expect(fgDiameter(fg, 1, 0.95)).toBeUndefined(); // nothing above the threshold
  });
});

describe('size estimate: re-estimate from the instances (issue 19 #2)', () => {
  // 30 disks of radius 3 (6-7 px across) in a grid, at scale 1, for a model of target 14
  const dense: Disk[] = [];
  for (let i = 0; i < 30; i++) dense.push({ cy: 10 + 9 * Math.floor(i / 6), cx: 10 + 9 * (i % 6), r: 3 });
  const labels = diskLabels(dense, 64, 64);

  it('many instances well below the target: the scale that brings them to it', () => {
    const s = rescaleForSmallInstances(labels, 1, 14)!;
    expect(s).toBeGreaterThan(14 / 7.5);
    expect(s).toBeLessThan(14 / 6);
    expect(rescaleForSmallInstances(labels, 2.2, 14)).toBeUndefined(); // already at about the target
    expect(rescaleForSmallInstances(labels, 1, 14, { minInstances: 31 })).toBeUndefined(); // too few
    expect(rescaleForSmallInstances(labels, 1, 7)).toBeUndefined(); // within tolerance
    expect(() => rescaleForSmallInstances(labels, 1, 14, { tolerance: 0.9 })).toThrow(
      /'tolerance' must be >= 1/,
    );
  });

  it('issue 19 #2: touching small nuclei whose mask clumps say "large" are re-run at their own size', async () => {
    // compact clumps of 6x6 slightly overlapping disks r=4 (~8 px nuclei): each clump is one mask component
    // ~43 px across, so the mask estimate reads ~45 px and the old flow shrinks the image ~3x, where they
    // merge — yet the instances at scale 1 are ~8 px, below 14 / 1.3.
    const rows: Disk[] = [];
    for (const [oy, ox] of [
      [10, 10],
      [10, 150],
      [150, 10],
      [150, 150],
    ])
      for (let y = 0; y < 6; y++)
        for (let x = 0; x < 6; x++) rows.push({ cy: oy! + 4 + 7 * y, cx: ox! + 4 + 7 * x, r: 4 });
    const raw = renderDistanceScene(rows, 280, 240);
    const opts = { tileSize: 128 } as const;
    const [old] = await segmentImageDetailed(raw, new PrecomputedMapsRunner(), testCard(14), {
      ...opts,
      reestimate: false,
    });
    const [re] = await segmentImageDetailed(raw, new PrecomputedMapsRunner(), testCard(14), {
      ...opts,
      reestimate: true,
    });
    const count = (l: Labels): number => new Set(l.data).size - 1;
    expect(old!.scale).toBeLessThan(0.5); // the clumps fooled the mask estimate...
    expect(count(old!.labels)).toBeLessThan(72); // ...and the 144 nuclei merged
    expect(re!.scale).toBeGreaterThan(1.4); // the ~8 px instances brought to ~14 px
    expect(re!.passes).toBe(2);
    expect(count(re!.labels)).toBe(rows.length);
  });
});
