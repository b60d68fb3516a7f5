import { describe, expect, it } from 'vitest';
import { randomDisks } from '../image/synthetic-nuclei.js';
import { ImageError } from '../image/types.js';
import type { HeadMaps, ModelRunner } from '../model/runners.js';
import { predictTiles, type TileInput } from './predict.js';
import { preprocess } from './preprocess.js';
import { segmentImage } from './segment.js';
import { PrecomputedMapsRunner, renderDistanceScene, testCard } from './testing/precomputed-maps-runner.js';

/**
 * Not equivariant under flips/rotations: inner = the column ramp x / (T - 1), outer = the row ramp, fg = the
 * last channel of the right-hand neighbour pixel (0 past the edge). Records the N of every call.
 */
class ShiftRunner implements ModelRunner {
  readonly name = 'shift';
  readonly runtime = 'test-double';
  readonly batches: number[] = [];
  predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    this.batches.push(n);
    const inner = new Float32Array(n * h * w);
    const outer = new Float32Array(n * h * w);
    const fg = new Float32Array(n * h * w);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const p = (b * h + y) * w + x;
          inner[p] = x / (w - 1);
          outer[p] = y / (h - 1);
          fg[p] = x + 1 < w ? batch[(p + 1) * c + c - 1]! : 0;
        }
    return Promise.resolve({ inner, outer, fg });
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

/** Index of the first value where `a` and `b` differ (lengths included), -1 if none (fast on big arrays). */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** `count` tiles of T x T x C with distinct, irregular values. */
function tileSet(count: number, t: number, c: number): TileInput {
  const tiles = Float32Array.from({ length: count * t * t * c }, (_, i) => ((i * 7919) % 1009) / 1009);
  return { tiles, count, tileSize: t, channels: c };
}

/** Last channel of tile `k` at (y, x), 0 outside the tile. */
function pixel(set: TileInput, k: number, y: number, x: number): number {
  const t = set.tileSize;
  if (y < 0 || x < 0 || y >= t || x >= t) return 0;
  return set.tiles[((k * t + y) * t + x) * set.channels + set.channels - 1]!;
}

describe('predictTiles test-time augmentation', () => {
  const H = 200;
  const W = 230;
  const disks = randomDisks(12, H, W, { minR: 7, maxR: 7, spacing: 1.3, seed: 3 });
  const card = testCard(14);
  const [a] = preprocess(renderDistanceScene(disks, H, W), { card, tileSize: 64 });
  const [b] = preprocess(renderDistanceScene(disks, 90, 70), { card, tileSize: 64 });

  it('with an equivariant (per-pixel) runner, tta 4 and 8 give exactly the maps of tta 1', async () => {
    const plain = await predictTiles(new PrecomputedMapsRunner(), [a!.tiles, b!.tiles], { batchSize: 4 });
    expect(plain[0]!.fg.some((v) => v > 0)).toBe(true);
    for (const tta of [4, 8] as const) {
      const runner = new PrecomputedMapsRunner();
      const maps = await predictTiles(runner, [a!.tiles, b!.tiles], { batchSize: 3, tta });
      for (const [k, m] of maps.entries()) {
        for (const head of ['inner', 'outer', 'fg'] as const)
          expect(firstDifference(m[head], plain[k]![head])).toBe(-1);
      }
      // Each transformed copy counts as one tile of a batch: at most 3 per call, tta per tile in all.
      const tiles = a!.tiles.count + b!.tiles.count;
      expect(Math.max(...runner.batches)).toBe(3);
      expect(runner.batches.reduce((s, n) => s + n, 0)).toBe(tiles * tta);
      expect(runner.batches).toHaveLength(Math.ceil((tiles * tta) / 3));
    }
  });

  it('segmentImage with tta 8 and the equivariant runner gives the labels of tta 1', async () => {
    const raw = renderDistanceScene(disks, H, W);
    const opts = { tileSize: 64, autoscale: false } as const;
    const [plain] = await segmentImage(raw, new PrecomputedMapsRunner(), card, opts);
    const runner = new PrecomputedMapsRunner();
    const [tta8] = await segmentImage(raw, runner, card, { ...opts, tta: 8 });
    expect(Math.max(...plain!.data)).toBe(disks.length);
    expect(tta8!.data).toEqual(plain!.data);
    expect(runner.batches.reduce((s, n) => s + n, 0)).toBe(8 * a!.tiles.count);
  });

  it.each([1, 2])(
    'with a runner that is not equivariant (%i channel(s)), each output is mapped back before averaging',
    async (channels) => {
      const t = 16;
      const set = tileSet(3, t, channels);
      const [one] = await predictTiles(new ShiftRunner(), [set], { tta: 1 });
      const [four] = await predictTiles(new ShiftRunner(), [set], { tta: 4, batchSize: 5 });
      const [eight] = await predictTiles(new ShiftRunner(), [set], { tta: 8, batchSize: 5 });
      for (let k = 0; k < set.count; k++)
        for (let y = 0; y < t; y++)
          for (let x = 0; x < t; x++) {
            const p = (k * t + y) * t + x;
            expect(one!.inner[p]).toBeCloseTo(x / (t - 1), 6);
            expect(one!.fg[p]).toBe(pixel(set, k, y, x + 1));
            // The flips turn the column ramp into its mirror: the mean is 0.5 everywhere.
            expect(four!.inner[p]).toBeCloseTo(0.5, 6);
            expect(four!.outer[p]).toBeCloseTo(0.5, 6);
            expect(eight!.inner[p]).toBeCloseTo(0.5, 6);
            // "The right neighbour" mapped back through the flips is the right or the left neighbour, and
            // through the transposed transforms also the one below or above.
            const left = pixel(set, k, y, x - 1);
            const right = pixel(set, k, y, x + 1);
            const up = pixel(set, k, y - 1, x);
            const down = pixel(set, k, y + 1, x);
            expect(four!.fg[p]).toBeCloseTo((left + right) / 2, 6);
            expect(eight!.fg[p]).toBeCloseTo((left + right + up + down) / 4, 6);
          }
      expect(firstDifference(eight!.fg, one!.fg)).not.toBe(-1);
    },
  );

  it('the maps do not depend on how the transformed tiles fall into batches', async () => {
    const set = tileSet(5, 16, 1);
    const [ref] = await predictTiles(new ShiftRunner(), [set], { tta: 8, batchSize: 1 });
    for (const batchSize of [3, 8, 13, 64]) {
      const runner = new ShiftRunner();
      const [maps] = await predictTiles(runner, [set], { tta: 8, batchSize });
      expect(firstDifference(maps!.fg, ref!.fg)).toBe(-1);
      expect(firstDifference(maps!.inner, ref!.inner)).toBe(-1);
      expect(Math.max(...runner.batches)).toBe(Math.min(batchSize, 40));
    }
  });

  it('refuses a tta other than 1, 4 or 8 with an ImageError', async () => {
    const set = tileSet(1, 16, 1);
    for (const tta of [0, 2, 3, 16, 1.5, '8'])
      await expect(predictTiles(new ShiftRunner(), [set], { tta: tta as unknown as 1 })).rejects.toThrow(
        new ImageError(
          'bad-argument',
          `'tta' must be 1 (off), 4 (flips) or 8 (flips and rotations); got ${tta}`,
        ),
      );
  });
});
