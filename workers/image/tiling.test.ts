import { describe, expect, it } from 'vitest';
import { axisPositions, reflectIndex, tileImage, untile, WINDOW_FLOOR } from './tiling.js';
import type { TileSet, TileWindow } from './tiling.js';
import { expectError, image, noise } from './test-helpers.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('axisPositions', () => {
  it('spreads tiles evenly, first at 0 and last flush with the far edge', () => {
    expect(axisPositions(2048, 512, 64)).toEqual([0, 384, 768, 1152, 1536]);
    expect(axisPositions(10, 4, 1)).toEqual([0, 3, 6]);
    expect(axisPositions(8, 4, 0)).toEqual([0, 4]);
    expect(axisPositions(5, 4, 0)).toEqual([0, 1]);
    expect(axisPositions(4, 4, 3)).toEqual([0]);
    expect(axisPositions(1, 4, 2)).toEqual([0]);
  });

  it('keeps neighbours overlapping by at least the requested amount, inside the image', () => {
    const violations: string[] = [];
    for (let length = 1; length <= 120; length++) {
      for (const t of [1, 2, 5, 16, 33]) {
        for (const v of new Set([0, 1, Math.floor(t / 2), t - 1])) {
          if (v >= t) continue;
          const p = axisPositions(length, t, v);
          const ok =
            p[0] === 0 &&
            (length <= t
              ? p.length === 1
              : p[p.length - 1] === length - t &&
                p.every(
                  (x, i) => i === 0 || (x > (p[i - 1] as number) && (p[i - 1] as number) + t - x >= v),
                ));
          if (!ok) violations.push(`L=${length} T=${t} v=${v}: ${p.join(',')}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});

describe('reflectIndex', () => {
  it("mirrors about the edge pixels like numpy 'reflect', repeatedly", () => {
    expect(Array.from({ length: 9 }, (_, i) => reflectIndex(i - 2, 3))).toEqual([2, 1, 0, 1, 2, 1, 0, 1, 2]);
    expect(reflectIndex(5, 1)).toBe(0);
  });
});

describe('tileImage', () => {
  it('cuts a 3x3 image into four 2x2 tiles with overlap 1 (hand-checked)', () => {
    const set = tileImage(image(3, 3, 1, [1, 2, 3, 4, 5, 6, 7, 8, 9]), { tileSize: 2, overlap: 1 });
    expect(set).toMatchObject({ count: 4, tileSize: 2, channels: 1, height: 3, width: 3 });
    expect(set.positions).toEqual([
      { y: 0, x: 0 },
      { y: 0, x: 1 },
      { y: 1, x: 0 },
      { y: 1, x: 1 },
    ]);
    expect([...set.tiles]).toEqual([1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9]);
  });

  it('reflect-pads an image smaller than the tile, per channel', () => {
    const set = tileImage(image(1, 3, 2, [1, 10, 2, 20, 3, 30]), { tileSize: 5, overlap: 2 });
    expect(set.count).toBe(1);
    const row = [1, 10, 2, 20, 3, 30, 2, 20, 1, 10];
    expect([...set.tiles]).toEqual([...row, ...row, ...row, ...row, ...row]);
    // Tall and thin: padded across, tiled along.
    const thin = tileImage(image(7, 1, 1, [0, 1, 2, 3, 4, 5, 6]), { tileSize: 3, overlap: 1 });
    expect(thin.positions.map((p) => p.y)).toEqual([0, 2, 4]);
    expect([...thin.tiles.subarray(0, 9)]).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
  });

  it('rejects bad options and malformed images, showing the numbers', () => {
    const img = image(4, 4, 1, new Array<number>(16).fill(0));
    expectError(
      () => tileImage(img, { tileSize: 0, overlap: 0 }),
      'bad-argument',
      /tileSize must be an integer >= 1, got 0/,
    );
    expectError(() => tileImage(img, { tileSize: 2.5, overlap: 0 }), 'bad-argument', /got 2\.5/);
    expectError(
      () => tileImage(img, { tileSize: 4, overlap: 4 }),
      'bad-argument',
      /overlap must be .*\[0, 3\] for tileSize 4, got 4/,
    );
    expectError(() => tileImage(img, { tileSize: 4, overlap: -1 }), 'bad-argument', /got -1/);
    expectError(
      () => tileImage(image(4, 4, 1, [1]), { tileSize: 2, overlap: 0 }),
      'shape-mismatch',
      /4x4x1 needs 16 values, has 1/,
    );
    expectError(
      () => tileImage(img, { tileSize: 100_000, overlap: 0 }),
      'too-many-pixels',
      /1 tiles of 100000x100000x1 for a 4x4 image would hold 10000000000 values, more than 268435456/,
    );
    expectError(
      () => tileImage({ ...img, channels: 0 }, { tileSize: 2, overlap: 0 }),
      'bad-argument',
      /4x4x0/,
    );
  });
});

describe('untile', () => {
  const windows: TileWindow[] = ['hann', 'triangle', 'none'];

  it('reconstructs the input exactly under an identity model, for many sizes, tiles, overlaps and windows', () => {
    const sizes = [1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 50, 64, 65, 100];
    let cases = 0;
    for (const [t, v] of [
      [1, 0],
      [4, 1],
      [16, 0],
      [16, 4],
      [16, 15],
      [32, 8],
    ] as const) {
      for (const h of sizes) {
        for (const w of sizes) {
          const c = (h + w) % 3 === 0 ? 3 : 1;
          const img = image(h, w, c, noise(h * w * c, h * 131 + w));
          const set = tileImage(img, { tileSize: t, overlap: v });
          const window = windows[cases % 3] as TileWindow;
          expect(maxAbsDiff(untile(set.tiles, set, c, { window }), img.data)).toBeLessThanOrEqual(1e-6);
          cases++;
        }
      }
    }
    expect(cases).toBe(6 * 14 * 14);
  });

  it('reconstructs 1x1, tile-sized, tile+1 and very wide or thin images with every window', () => {
    for (const [h, w] of [
      [1, 1],
      [64, 64],
      [65, 65],
      [64, 65],
      [1, 1000],
      [1000, 2],
      [3, 517],
    ] as const) {
      const img = image(h, w, 2, noise(h * w * 2, h + w));
      const set = tileImage(img, { tileSize: 64, overlap: 16 });
      for (const window of windows) {
        expect(maxAbsDiff(untile(set.tiles, set, 2, { window }), img.data)).toBeLessThanOrEqual(1e-6);
      }
    }
  });

  it('blends K output channels independently of the input channels', () => {
    const img = image(40, 30, 1, noise(1200, 3));
    const set = tileImage(img, { tileSize: 16, overlap: 6 });
    const outputs = new Float32Array(set.count * 16 * 16 * 2);
    set.tiles.forEach((v, i) => {
      outputs[2 * i] = v;
      outputs[2 * i + 1] = 1 - 2 * v;
    });
    const merged = untile(outputs, set, 2);
    for (let p = 0; p < 1200; p++) {
      expect(merged[2 * p]).toBeCloseTo(img.data[p] as number, 6);
      expect(merged[2 * p + 1]).toBeCloseTo(1 - 2 * (img.data[p] as number), 6);
    }
  });

  it('weights tile centres over tile borders: disagreeing tiles blend towards the nearer centre', () => {
    // Two 8-wide tiles on a 1x12 image (x = 0 and 4); tile 0 says 0, tile 1 says 1.
    const set = tileImage(image(1, 12, 1, new Array<number>(12).fill(0)), { tileSize: 8, overlap: 4 });
    expect(set.positions.map((p) => p.x)).toEqual([0, 4]);
    const outputs = new Float32Array(2 * 64);
    outputs.fill(1, 64);
    for (const window of ['hann', 'triangle'] as const) {
      const row = [...untile(outputs, set, 1, { window })];
      expect(row.slice(0, 4)).toEqual([0, 0, 0, 0]); // only tile 0
      expect(row.slice(8)).toEqual([1, 1, 1, 1]); // only tile 1
      const overlap = row.slice(4, 8);
      for (let i = 1; i < 4; i++) expect(overlap[i]).toBeGreaterThan(overlap[i - 1] as number);
      expect(overlap[0]).toBeLessThan(0.5);
      expect(overlap[3]).toBeGreaterThan(0.5);
    }
    // With no window the overlap is the plain mean.
    expect([...untile(outputs, set, 1, { window: 'none' })].slice(4, 8)).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(WINDOW_FLOOR).toBeGreaterThan(0);
  });

  it('rejects wrong output lengths, k, windows and inconsistent sets, showing the numbers', () => {
    const set = tileImage(image(10, 10, 1, noise(100)), { tileSize: 8, overlap: 2 });
    expect(set.count).toBe(4);
    expectError(
      () => untile(new Float32Array(10), set, 1),
      'shape-mismatch',
      /hold 10 values but 4 tiles of 8x8x1 need 256/,
    );
    expectError(() => untile(set.tiles, set, 2), 'shape-mismatch', /4 tiles of 8x8x2 need 512/);
    expectError(() => untile(set.tiles, set, 0), 'bad-argument', /k \(output channels\) .* got 0/);
    expectError(
      () => untile(set.tiles, set, 1, { window: 'gauss' as TileWindow }),
      'bad-argument',
      /window must be .* got 'gauss'/,
    );
    const broken: TileSet = { ...set, count: 3 };
    expectError(() => untile(set.tiles.subarray(0, 192), broken, 1), 'bad-argument', /count 3, 4 positions/);
    const offGrid: TileSet = { ...set, positions: [...set.positions.slice(0, 3), { y: 1, x: 1 }] };
    expectError(
      () => untile(set.tiles, offGrid, 1),
      'bad-argument',
      /do not form a grid inside the 10x10 image/,
    );
    const outside: TileSet = { ...set, positions: set.positions.map((p) => ({ y: p.y, x: p.x + 1 })) };
    expectError(() => untile(set.tiles, outside, 1), 'bad-argument', /do not form a grid/);
  });
});
