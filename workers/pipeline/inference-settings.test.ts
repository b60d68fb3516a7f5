// Issue 22 #3: the inference settings are one function of the core count (2 cores measured here, 16 by the
// same code path), and the per-image tile side covers the image with the fewest tile pixels.
import { describe, expect, it } from 'vitest';
import { axisPositions } from '../image/tiling.js';
import { FIT_TILE_MAX, FIT_TILE_MIN, fitTileSize, inferenceSettings } from './inference-settings.js';
import { prepareImage } from './preprocess.js';
import { testCard } from './testing/precomputed-maps-runner.js';

/** Tile pixels ../image/tiling.ts lays over an h x w image with tiles of side t. */
const coveredPx = (h: number, w: number, t: number, overlap: number): number =>
  axisPositions(h, t, overlap).length * axisPositions(w, t, overlap).length * t * t;

describe('inferenceSettings(cores)', () => {
  it('2 cores: 2 threads, tiles fitted per image, 4 tiles per call, 16 in the service', () => {
    expect(inferenceSettings(2)).toEqual({
      tileSize: 'fit',
      batchSize: 4,
      intraOpThreads: 2,
      serviceBatchTiles: 16,
    });
  });

  it('16 cores: the same code path gives 16 threads and the same tiles and batches', () => {
    expect(inferenceSettings(16)).toEqual({ ...inferenceSettings(2), intraOpThreads: 16 });
    expect(inferenceSettings(1).intraOpThreads).toBe(1);
  });

  it('refuses a core count that is not a positive integer', () => {
    for (const bad of [0, -2, 1.5, Number.NaN])
      expect(() => inferenceSettings(bad)).toThrow(/cores must be an integer >= 1/);
  });
});

describe('fitTileSize', () => {
  const sizes: [number, number][] = [
    [180, 180],
    [256, 256],
    [256, 320],
    [360, 360],
    [512, 640],
    [603, 1272],
    [1024, 1024],
    [2048, 2048],
  ];

  it.each(sizes)('%i x %i: no side in the range covers it with fewer tile pixels', (h, w) => {
    const t = fitTileSize(h, w, 32);
    expect(t % 16).toBe(0);
    expect(t).toBeGreaterThanOrEqual(FIT_TILE_MIN);
    expect(t).toBeLessThanOrEqual(FIT_TILE_MAX);
    for (let s = FIT_TILE_MIN; s <= FIT_TILE_MAX; s += 16)
      expect(coveredPx(h, w, t, 32)).toBeLessThanOrEqual(coveredPx(h, w, s, 32));
  });

  it('never costs more than the old fixed 256, and much less where 256 fits badly', () => {
    for (const [h, w] of sizes)
      expect(coveredPx(h, w, fitTileSize(h, w, 32), 32)).toBeLessThanOrEqual(coveredPx(h, w, 256, 32));
    // 360 x 360 (14 of the 68 val images): four 256-px tiles (2.02x its pixels) → one of 368 (1.04x).
    expect(fitTileSize(360, 360, 32)).toBe(368);
    expect(coveredPx(360, 360, 368, 32) / (360 * 360)).toBeLessThan(1.05);
    // A 1-Mpx image: 25 tiles of 256 (1.56x) → 9 of 368 (1.16x).
    expect(fitTileSize(1024, 1024, 32)).toBe(368);
    expect(fitTileSize(180, 180, 32)).toBe(256); // smaller than any tile: one tile of the smallest side
  });

  it('is what the pipeline uses when no tileSize is given, at the image size after rescaling', () => {
    const image = { data: new Float32Array(720 * 720), height: 720, width: 720, channels: 1 };
    expect(prepareImage(image, testCard(14), 0.5).tiles.tileSize).toBe(fitTileSize(360, 360, 32));
    expect(prepareImage(image, testCard(14), 0.5, { tileSize: 256 }).tiles.tileSize).toBe(256);
  });
});
