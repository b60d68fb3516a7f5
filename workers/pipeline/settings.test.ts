// Issue 23 #9: the pipeline's options are resolved and checked once, where they enter
// (resolveSettings), and the stages below get the resolved settings and check nothing again.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { randomDisks } from '../image/synthetic-nuclei.js';
import { ImageError } from '../image/types.js';
import type { HeadMaps, ModelRunner } from '../model/runners.js';
import { selectImages } from './preprocess.js';
import { segmentImageDetailed, segmentPlane, type SegmentOptions } from './segment.js';
import { resolveSettings } from './settings.js';
import { PrecomputedMapsRunner, renderDistanceScene, testCard } from './testing/precomputed-maps-runner.js';
import { segmentVolume } from './volume.js';

// Every check of ./options.ts, wrapped so the test can count how often the pipeline runs one.
const checks = vi.hoisted(() => ({ calls: 0 }));
vi.mock('./options.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('./options.js')>();
  const counted = <A extends unknown[], R>(f: (...a: A) => R) =>
    ((...a: A): R => {
      checks.calls++;
      return f(...a);
    }) as typeof f;
  return {
    ...real,
    checkPositiveInt: counted(real.checkPositiveInt),
    checkPositiveNumber: counted(real.checkPositiveNumber),
    checkScale: counted(real.checkScale),
    checkTta: counted(real.checkTta),
  };
});

const card = testCard(14);
const H = 300;
const W = 340;
const big = randomDisks(14, H, W, { minR: 14, maxR: 14, spacing: 1.3, seed: 9 });

/** Counts model calls and records the tile shape and batch of each. */
class RecordingRunner extends PrecomputedMapsRunner implements ModelRunner {
  readonly shapes: [n: number, h: number, w: number][] = [];
  override predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    this.shapes.push([n, h, w]);
    return super.predict(batch, n, h, w, c);
  }
}

describe('resolveSettings: every default applied, every option checked, once', () => {
  it('applies the pipeline defaults, over them the card, over that the caller', () => {
    const s = resolveSettings(card);
    expect(s.scale).toBe(1);
    expect(s.autoscale).toBe(true);
    expect(s.maxPasses).toBe(3);
    expect(s.sizeEstimate).toBe('full');
    expect(s.reestimate).toBe(false);
    expect(s.rescale).toEqual({ tolerance: 1.3, minObjects: 3 });
    expect(s.tiling).toEqual({ tileSize: 'fit', overlap: 32 }); // per image: inference-settings.ts
    expect(s.predict).toEqual({ batchSize: 4, tta: 1 });
    // The card's postprocess (radius 4) over the pipeline's default (radius 6).
    expect(s.labels).toMatchObject({ window: 'hann', mask: 'fg', resolution: 'original' });
    expect(s.labels.watershed.radius).toBe(4);
    expect(s.labels.imported).toBeUndefined();

    const t = resolveSettings(card, {
      mpp: 0.25,
      tileSize: 128,
      overlap: 16,
      batchSize: 2,
      tta: 8,
      window: 'triangle',
      watershed: { radius: 3, resolution: 'model' },
      maxPasses: 2,
    });
    expect(t.scale).toBe(0.5);
    expect(t.autoscale).toBe(false); // µm/px given: no estimate, one pass
    expect(t.maxPasses).toBe(1);
    expect(t.tiling).toEqual({ tileSize: 128, overlap: 16 });
    expect(t.predict).toEqual({ batchSize: 2, tta: 8 });
    expect(t.labels).toMatchObject({ window: 'triangle', mask: 'fg', resolution: 'model' });
    expect(t.labels.watershed.radius).toBe(3);
  });

  const refused: [string, SegmentOptions, RegExp][] = [
    ['batchSize 0', { batchSize: 0 }, /'batchSize' must be an integer >= 1; got 0/],
    ['tta 3', { tta: 3 as 1 }, /'tta' must be 1 \(off\), 4 \(flips\) or 8 \(flips and rotations\); got 3/],
    [
      'an unknown window',
      { window: 'box' as 'hann' },
      /'window' must be 'hann', 'triangle' or 'none'; got "box"/,
    ],
    ['maxPasses 1.5', { maxPasses: 1.5 }, /'maxPasses' must be an integer >= 1; got 1.5/],
    ['a tolerance below 1', { rescaleRule: { tolerance: 0.8 } }, /'tolerance' must be >= 1; got 0.8/],
    [
      'sizeEstimate "fast"',
      { sizeEstimate: 'fast' as 'full' },
      /'sizeEstimate' must be 'full' or 'cheap'; got "fast"/,
    ],
    ['a watershed radius of 0', { watershed: { radius: 0 } }, /radius/],
    [
      'an unknown watershed option',
      { watershed: { radios: 4 } as never },
      /unknown deepWatershed option 'radios'/,
    ],
    [
      'tileSize 100',
      { tileSize: 100 },
      /'tileSize' must be a multiple of the model's size multiple 16; got 100/,
    ],
  ];

  it.each(refused)('refuses %s by name, before the model runs once', async (_what, opts, message) => {
    expect(() => resolveSettings(card, opts)).toThrow(message);
    const runner = new RecordingRunner();
    const run = segmentImageDetailed(renderDistanceScene(big, H, W), runner, card, opts);
    await expect(run).rejects.toBeInstanceOf(ImageError);
    await expect(run).rejects.toThrow(message);
    expect(runner.shapes).toEqual([]);
  });

  it('a volume refuses bad options (its stitch options too) before segmenting any plane', async () => {
    const plane = renderDistanceScene(big, H, W);
    const stack = { ...plane, data: new Uint8Array(2 * H * W), shape: [2, H, W], axes: 'ZYX' };
    const runner = new RecordingRunner();
    await expect(segmentVolume(stack, runner, card, { batchSize: -1 })).rejects.toThrow(/'batchSize'/);
    await expect(segmentVolume(stack, runner, card, { stitch: { threshold: 2 } })).rejects.toThrow(
      /'threshold' must be in \(0, 1\]; got 2/,
    );
    expect(runner.shapes).toEqual([]);
  });
});

describe('the stages take resolved settings and check nothing again', () => {
  beforeEach(() => {
    checks.calls = 0;
  });

  it('a two-pass segmentation runs exactly the checks of one resolveSettings', async () => {
    const opts: SegmentOptions = { tileSize: 128, batchSize: 3 };
    resolveSettings(card, opts);
    const once = checks.calls;
    expect(once).toBeGreaterThan(0); // the counter sees the checks

    checks.calls = 0;
    const runner = new RecordingRunner();
    const [result] = await segmentImageDetailed(renderDistanceScene(big, H, W), runner, card, opts);
    expect(result!.passes).toBe(2); // nuclei 2x the target: measured, then segmented again at ~1/2
    expect(checks.calls).toBe(once);
  });

  it('segmentPlane uses the tile size and batch it is handed', async () => {
    const settings = resolveSettings(card, { tileSize: 64, overlap: 8, batchSize: 3, autoscale: false });
    const [image] = selectImages(renderDistanceScene(big, H, W), card);
    const runner = new RecordingRunner();
    checks.calls = 0;
    const r = await segmentPlane(image!, 0, runner, card, settings);
    expect(checks.calls).toBe(0);
    expect(r.passes).toBe(1);
    expect(runner.shapes.length).toBeGreaterThan(1);
    for (const [n, h, w] of runner.shapes) {
      expect([h, w]).toEqual([64, 64]);
      expect(n).toBeLessThanOrEqual(3);
    }
  });
});
