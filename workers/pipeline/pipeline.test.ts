import { describe, expect, it } from 'vitest';
import { randomDisks, type Disk } from '../image/synthetic-nuclei.js';
import { ImageError, type Labels, type RawArray } from '../image/types.js';
import { PIPELINE_POSTPROCESS_DEFAULTS } from './options.js';
import { postprocess, watershedOptions } from './postprocess.js';
import { predictTiles } from './predict.js';
import { preprocess } from './preprocess.js';
import {
  distanceToBackground,
  MASK_DIAMETER_CALIBRATION,
  maskDiameter,
  medianDiameter,
  rescaleForDiameter,
} from './scale.js';
import { segmentImage, segmentImageDetailed } from './segment.js';
import { PrecomputedMapsRunner, renderDistanceScene, testCard } from './testing/precomputed-maps-runner.js';

/** For each disk: the label under its centre, and that label's IoU with the disk. */
function matchDisks(labels: Labels, disks: readonly Disk[]): { ids: number[]; ious: number[] } {
  const ids: number[] = [];
  const ious: number[] = [];
  for (const { cy, cx, r } of disks) {
    const id = labels.data[cy * labels.width + cx]!;
    let inter = 0;
    let area = 0;
    let diskArea = 0;
    for (let y = 0; y < labels.height; y++)
      for (let x = 0; x < labels.width; x++) {
        const inDisk = (y - cy) ** 2 + (x - cx) ** 2 <= r * r;
        const inLabel = id !== 0 && labels.data[y * labels.width + x] === id;
        diskArea += inDisk ? 1 : 0;
        area += inLabel ? 1 : 0;
        inter += inDisk && inLabel ? 1 : 0;
      }
    ids.push(id);
    ious.push(inter / (diskArea + area - inter));
  }
  return { ids, ious };
}

function countObjects(labels: Labels): number {
  return new Set(labels.data).size - (labels.data.includes(0) ? 1 : 0);
}

function expectDisksFound(labels: Labels, disks: readonly Disk[], minIou = 0.75): void {
  const { ids, ious } = matchDisks(labels, disks);
  expect(ids.every((id) => id > 0)).toBe(true);
  expect(new Set(ids).size).toBe(disks.length);
  expect(countObjects(labels)).toBe(disks.length);
  expect(Math.min(...ious)).toBeGreaterThan(minIou);
}

const H = 300;
const W = 340;
const small = randomDisks(20, H, W, { minR: 7, maxR: 7, spacing: 1.3, seed: 5 });
const big = randomDisks(14, H, W, { minR: 14, maxR: 14, spacing: 1.3, seed: 9 });

describe('segmentImage with a precomputed-maps runner (plumbing, no model)', () => {
  it('finds every disk of a scene cut into 3x4 overlapping tiles, at the original size', async () => {
    expect(small.length).toBe(20);
    const runner = new PrecomputedMapsRunner();
    const [labels, ...rest] = await segmentImage(renderDistanceScene(small, H, W), runner, testCard(14), {
      tileSize: 128,
      overlap: 32,
      batchSize: 4,
      autoscale: false,
    });
    expect(rest).toHaveLength(0);
    expect([labels!.height, labels!.width]).toEqual([H, W]);
    expectDisksFound(labels!, small);
    expect(runner.batches).toEqual([4, 4, 4]); // 3 x 4 tiles (300 / 340 px, stride <= 96) in batches of 4
  });

  it('16-bit input with nuclei 2x the target: a first pass measures them, the second runs at scale 1/2', async () => {
    const raw = renderDistanceScene(big, H, W, 'uint16', 3000);
    const [result] = await segmentImageDetailed(raw, new PrecomputedMapsRunner(), testCard(14), {
      tileSize: 128,
    });
    expect(result!.passes).toBe(2);
    // The mask-based size estimate reads ideal disks ~10% large (it is calibrated on real, less round nuclei).
    expect(result!.scale).toBeGreaterThan(0.4);
    expect(result!.scale).toBeLessThan(0.55);
    expect([result!.labels.height, result!.labels.width]).toEqual([H, W]);
    expectDisksFound(result!.labels, big, 0.7);
  });

  it('nuclei already at the target size: one pass', async () => {
    const [result] = await segmentImageDetailed(
      renderDistanceScene(small, H, W),
      new PrecomputedMapsRunner(),
      testCard(14),
      { tileSize: 128 },
    );
    expect(result!.passes).toBe(1);
    expect(result!.scale).toBe(1);
  });

  it('with mpp: rescales by mpp / card mpp in one pass (0.25 µm/px into a 0.5 µm/px model = 1/2)', async () => {
    const [result] = await segmentImageDetailed(
      renderDistanceScene(big, H, W),
      new PrecomputedMapsRunner(),
      testCard(14, 0.5),
      { mpp: 0.25, tileSize: 128 },
    );
    expect(result!.passes).toBe(1);
    expect(result!.scale).toBe(0.5);
    expectDisksFound(result!.labels, big, 0.7);
  });

  it('watershed at the model scale (resolution: model) also finds the disks after a 1/2 rescale', async () => {
    const [result] = await segmentImageDetailed(
      renderDistanceScene(big, H, W),
      new PrecomputedMapsRunner(),
      testCard(14, 0.5),
      {
        mpp: 0.25,
        tileSize: 128,
        watershed: { resolution: 'model' },
      },
    );
    expect(result!.scale).toBe(0.5);
    expectDisksFound(result!.labels, big, 0.7);
  });

  it('the outer-distance mask (mask: outer) finds the same disks', async () => {
    const [labels] = await segmentImage(
      renderDistanceScene(small, H, W),
      new PrecomputedMapsRunner(),
      testCard(14),
      {
        tileSize: 128,
        autoscale: false,
        watershed: { mask: 'outer', interiorThreshold: 0.02 },
      },
    );
    expectDisksFound(labels!, small);
  });

  it('a 2-plane stack gives two label images', async () => {
    const a = renderDistanceScene(small.slice(0, 5), 64, 80);
    const b = renderDistanceScene(small.slice(0, 3), 64, 80);
    const data = new Uint8Array(2 * 64 * 80);
    data.set(a.data as Uint8Array, 0);
    data.set(b.data as Uint8Array, 64 * 80);
    const stack: RawArray = { data, dtype: 'uint8', shape: [2, 64, 80], axes: 'QYX' };
    const labels = await segmentImage(stack, new PrecomputedMapsRunner(), testCard(14), {
      tileSize: 64,
      autoscale: false,
    });
    expect(labels.map(countObjects)).toEqual([
      small.slice(0, 5).filter((d) => d.cy < 64 - 3 && d.cx < 80 - 3).length,
      small.slice(0, 3).filter((d) => d.cy < 64 - 3 && d.cx < 80 - 3).length,
    ]);
  });

  it('an empty (all-zero) image gives no objects and no second pass', async () => {
    const raw: RawArray = { data: new Uint8Array(50 * 60), dtype: 'uint8', shape: [50, 60], axes: 'YX' };
    const [result] = await segmentImageDetailed(raw, new PrecomputedMapsRunner(), testCard(14), {
      tileSize: 64,
    });
    expect(countObjects(result!.labels)).toBe(0);
    expect(result!.passes).toBe(1);
  });
});

describe('predictTiles batches across tile sets', () => {
  it('pools tiles of several images into shared batches and returns each set its own maps', async () => {
    const card = testCard(14);
    const [p1] = preprocess(renderDistanceScene(small, H, W), { card, tileSize: 128 });
    const [p2] = preprocess(renderDistanceScene(big, 100, 120), { card, tileSize: 128 });
    const pooled = new PrecomputedMapsRunner();
    const together = await predictTiles(pooled, [p1!.tiles, p2!.tiles], { batchSize: 4 });
    expect(pooled.batches).toEqual([4, 4, 4, 1]); // 12 + 1 tiles
    const alone = await predictTiles(new PrecomputedMapsRunner(), [p2!.tiles], { batchSize: 1 });
    expect(together[1]!.inner).toEqual(alone[0]!.inner);
    expect(together[0]!.fg.length).toBe(12 * 128 * 128);
  });

  it('rejects mixed tile shapes, inconsistent sets and a bad batch size', async () => {
    const card = testCard(14);
    const [a] = preprocess(renderDistanceScene(small, 100, 100), { card, tileSize: 64 });
    const [b] = preprocess(renderDistanceScene(small, 100, 100), { card, tileSize: 128 });
    const runner = new PrecomputedMapsRunner();
    await expect(predictTiles(runner, [a!.tiles, b!.tiles])).rejects.toThrow(
      /tile set 1 has 128x128x1 tiles; set 0 has 64x64x1/,
    );
    await expect(predictTiles(runner, [{ ...a!.tiles, count: 99 }])).rejects.toThrow(
      /tile set 0 holds 36864 values; 99 tiles of 64x64x1 need 405504/,
    );
    await expect(predictTiles(runner, [a!.tiles], { batchSize: 0 })).rejects.toThrow(
      /'batchSize' must be an integer >= 1; got 0/,
    );
    expect(await predictTiles(runner, [])).toEqual([]);
  });
});

describe('pipeline option errors are ImageErrors that say what was wrong', () => {
  const raw = renderDistanceScene(small, 100, 100);
  const card = testCard(14);
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'tile size not a multiple of the model',
      { tileSize: 100 },
      /'tileSize' must be a multiple of the model's size multiple 16; got 100/,
    ],
    ['overlap >= tile size', { tileSize: 64, overlap: 64 }, /'overlap' must be < tileSize 64; got 64/],
    ['negative overlap', { overlap: -1 }, /'overlap' must be an integer >= 0; got -1/],
    ['non-positive mpp', { mpp: 0 }, /'mpp' must be a positive finite number; got 0/],
    ['mpp too far from the model', { mpp: 10 }, /'mpp' 10 µm\/px is 20.000x the model's 0.5 µm\/px/],
    ['scale out of range', { scale: 20 }, /'scale' must be in \[0.125, 8\]; got 20/],
    [
      'two channels for a one-channel model',
      { channels: [0, 0] },
      /the model takes 1 channel\(s\) but channels \[0, 0\] select 2/,
    ],
    ['a channel that does not exist', { channels: [3] }, /channel/],
    ['a bad dimension order', { dimensionOrder: 'XYZQ' }, /./],
  ];
  it.each(cases)('%s', async (_what, opts, message) => {
    const run = segmentImage(raw, new PrecomputedMapsRunner(), card, opts);
    await expect(run).rejects.toBeInstanceOf(ImageError);
    await expect(run).rejects.toThrow(message);
  });

  it('postprocess refuses a grid that does not match the image meta', () => {
    const [p] = preprocess(raw, { card, tileSize: 64 });
    const { tiles: _t, ...grid } = p!.tiles;
    const maps = { inner: new Float32Array(0), outer: new Float32Array(0), fg: new Float32Array(0) };
    expect(() => postprocess(maps, grid, { ...p!.meta, scaledHeight: 50 })).toThrow(
      /tile grid is 100x100 but the image meta says the scaled image is 50x100/,
    );
    expect(() => postprocess(maps, grid, p!.meta)).toThrow(ImageError);
  });

  it('postprocess refuses an unknown mask or resolution', async () => {
    await expect(
      segmentImage(raw, new PrecomputedMapsRunner(), card, { watershed: { mask: 'x' as 'fg' } }),
    ).rejects.toThrow(/postprocess 'mask' must be 'fg' or 'outer'; got "x"/);
    await expect(
      segmentImage(raw, new PrecomputedMapsRunner(), card, { watershed: { resolution: 'y' as 'model' } }),
    ).rejects.toThrow(/postprocess 'resolution' must be 'original' or 'model'; got "y"/);
  });

  it('maxPasses must be a positive integer', async () => {
    await expect(segmentImage(raw, new PrecomputedMapsRunner(), card, { maxPasses: 0 })).rejects.toThrow(
      /'maxPasses' must be an integer >= 1; got 0/,
    );
  });
});

describe('postprocess settings', () => {
  it('pipeline defaults < card postprocess (useFg read as mask, method and other keys ignored) < caller', () => {
    const card = {
      ...testCard(14),
      postprocess: { method: 'deep-watershed' as const, radius: 6, useFg: false, chosenOn: 'val' },
    };
    const s = watershedOptions({ card, watershed: { maximaThreshold: 0.3 } });
    expect(s).toEqual({ ...PIPELINE_POSTPROCESS_DEFAULTS, radius: 6, mask: 'outer', maximaThreshold: 0.3 });
    expect(watershedOptions({})).toEqual(PIPELINE_POSTPROCESS_DEFAULTS);
  });
});

describe('scale estimate', () => {
  const disk = (r: number): Labels => {
    const n = 4 * r + 1;
    const data = new Uint32Array(n * n);
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) if ((y - 2 * r) ** 2 + (x - 2 * r) ** 2 <= r * r) data[y * n + x] = 1;
    return { data, height: n, width: n };
  };
  it('medianDiameter is the equivalent-circle diameter; undefined without objects', () => {
    expect(medianDiameter(disk(20))).toBeCloseTo(40, 0);
    expect(medianDiameter({ data: new Uint32Array(9), height: 3, width: 3 })).toBeUndefined();
    // Even count: mean of the middle two areas' diameters (areas 1, 4 → diameters 1.128, 2.257).
    const two: Labels = { data: Uint32Array.of(1, 2, 2, 2, 2, 0), height: 2, width: 3 };
    expect(medianDiameter(two)).toBeCloseTo((2 * Math.sqrt(1 / Math.PI) + 2 * Math.sqrt(4 / Math.PI)) / 2, 6);
  });
  const placeDisks = (r: number, n: number, cut = false): Labels => {
    const size = 4 * r + 1;
    const data = new Uint32Array(size * size * n);
    for (let k = 0; k < n; k++)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const [dy, dx] = [y - 2 * r, x - 2 * r];
          if (dy * dy + dx * dx > r * r) continue;
          // cut: each disk split into 4 quadrant objects, as a model trained on smaller nuclei would
          data[(k * size + y) * size + x] = cut ? 4 * k + (dy < 0 ? 1 : 2) + (dx < 0 ? 0 : 2) : k + 1;
        }
    return { data, height: size * n, width: size };
  };

  it('distanceToBackground is exact Euclidean distance to the nearest off pixel', () => {
    expect([...distanceToBackground(Uint8Array.of(0, 1, 1, 1, 0), 1, 5)]).toEqual([0, 1, 2, 1, 0]);
    const mask = new Uint8Array(25);
    for (const i of [6, 7, 8, 11, 12, 13, 16, 17, 18]) mask[i] = 1;
    const d = distanceToBackground(mask, 5, 5);
    expect(d[12]).toBe(2);
    expect(d[6]).toBe(1);
    const diag = Uint8Array.of(0, 1, 1, 1, 1, 1, 1, 1, 1); // nearest off pixel of the far corner is 2√2 away
    expect(distanceToBackground(diag, 3, 3)[8]).toBeCloseTo(2 * Math.SQRT2, 12);
    expect([...distanceToBackground(new Uint8Array(4).fill(1), 2, 2)]).toEqual([
      Infinity,
      Infinity,
      Infinity,
      Infinity,
    ]);
  });

  it('distanceToBackground equals the brute-force nearest off pixel on random masks (columns and rows with no off pixel included)', () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let t = 0; t < 300; t++) {
      const h = 1 + Math.floor(rnd() * 24);
      const w = 1 + Math.floor(rnd() * 24);
      const on = 0.5 + 0.5 * rnd(); // dense masks: whole columns and rows without background are common
      const mask = new Uint8Array(h * w).map(() => (rnd() < on ? 1 : 0));
      const d = distanceToBackground(mask, h, w);
      for (let i = 0; i < h * w; i++) {
        let best = Infinity;
        for (let j = 0; j < h * w; j++)
          if (!mask[j])
            best = Math.min(
              best,
              Math.sqrt((Math.floor(i / w) - Math.floor(j / w)) ** 2 + ((i % w) - (j % w)) ** 2),
            );
        expect(d[i], `mask ${t} (${h}x${w}) pixel ${i}`).toBe(mask[i] ? best : 0);
      }
    }
  });

  it('maskDiameter: 2 x max distance to background per component / calibration, however the objects are cut', () => {
    // digital disk r=10: the off pixel nearest the centre is (10, 1), at sqrt(101)
    const expected = (2 * Math.sqrt(101)) / MASK_DIAMETER_CALIBRATION;
    expect(maskDiameter(placeDisks(10, 3))).toEqual({
      diameter: expect.closeTo(expected, 9) as number,
      components: 3,
    });
    expect(maskDiameter(placeDisks(10, 3, true))!.diameter).toBeCloseTo(expected, 9);
    expect(medianDiameter(placeDisks(10, 3, true))!).toBeLessThan(expected / 1.8); // instances would mislead
    expect(maskDiameter({ data: new Uint32Array(9), height: 3, width: 3 })).toBeUndefined();
    expect(maskDiameter({ data: new Uint32Array(9).fill(1), height: 3, width: 3 })).toBeUndefined(); // no background
  });

  it('rescaleForDiameter: target/estimate when outside tolerance, undefined inside or with too few objects', () => {
    const disks = placeDisks(10, 3, true);
    const d = maskDiameter(disks)!.diameter;
    expect(rescaleForDiameter(disks, 1, d)).toBeUndefined();
    expect(rescaleForDiameter(disks, 1, d * 1.25)).toBeUndefined(); // within the default tolerance 1.3
    expect(rescaleForDiameter(disks, 1, d / 2)).toBeCloseTo(0.5, 9);
    expect(rescaleForDiameter(disks, 0.5, d / 2)).toBeUndefined(); // already at the right scale
    expect(rescaleForDiameter(placeDisks(10, 2), 1, 2)).toBeUndefined(); // 2 objects: too few to trust
    expect(rescaleForDiameter(disks, 1, d * 100)).toBe(8); // clamped
    expect(() => rescaleForDiameter(disks, 1, d, { tolerance: 0.5 })).toThrow(
      /'tolerance' must be >= 1; got 0.5/,
    );
    expect(() => rescaleForDiameter(disks, 0, d)).toThrow(/'scale' must be a positive finite number; got 0/);
  });
});
