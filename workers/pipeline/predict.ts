/**
 * Stage 2 of segmentation: tiles → the network's head maps, in batches.
 * Batching is a plain function over tile sets, so the inference worker can pool tiles of several jobs into
 * one batch and hand each job back exactly its own maps.
 */
import { addDihedralInverse, dihedralTransform } from '../image/dihedral.js';
import type { TileSet } from '../image/tiling.js';
import type { HeadMaps, ModelRunner } from '../model/runners.js';
import { bad, type Tta } from './options.js';
import { resolvePredict, type PredictSettings } from './settings.js';

export interface PredictOptions {
  /**
   * Tiles per model call (bounds memory: one batch of inputs and outputs at a time); with `tta` each
   * transformed copy of a tile counts as one tile. @default 4
   */
  readonly batchSize?: number;
  /**
   * Test-time augmentation: 1 = off; 4 = also predict the tile flipped left-right, up-down and both; 8 = the
   * 8 flips/90° rotations. Each prediction is mapped back and the head maps are averaged (the heads are
   * distance maps and P(fg), whose meaning does not change under these transforms). Costs `tta` times the
   * model calls. @default 1 (DEFAULT_TTA)
   */
  readonly tta?: Tta;
}

/** The tile pixels of a set: what predict needs (a `TileSet` fits). */
export type TileInput = Pick<TileSet, 'tiles' | 'count' | 'tileSize' | 'channels'>;

const HEADS = ['inner', 'outer', 'fg'] as const;

/**
 * Runs `runner` over every tile of every set, `batchSize` tiles per call (tiles of different sets share a
 * batch), and returns one `HeadMaps` per set, each map [count, T, T] in the set's tile order.
 * All sets must have the same tile size and channel count (one model input shape).
 * With `tta` > 1 the `tta` transforms of a tile are queued one after the other (so they may span two
 * batches); each output is mapped back and summed in float64, and the tile's maps are the mean.
 * @throws ImageError 'bad-argument' for mixed tile sizes/channels, a set whose `tiles` length is not
 *   count * T * T * C, or a bad batchSize or tta. Runner errors pass through.
 */
export async function predictTiles(
  runner: ModelRunner,
  sets: readonly TileInput[],
  opts: PredictOptions = {},
): Promise<HeadMaps[]> {
  return predictBatches(runner, sets, resolvePredict(opts));
}

/**
 * {@link predictTiles} with `batchSize` and `tta` already resolved (./settings.ts); still checks that the
 * sets share one tile shape and hold what they say (data, not options).
 */
export async function predictBatches(
  runner: ModelRunner,
  sets: readonly TileInput[],
  { batchSize, tta }: PredictSettings,
): Promise<HeadMaps[]> {
  if (sets.length === 0) return [];
  const { tileSize: t, channels: c } = sets[0]!;
  sets.forEach((s, k) => {
    if (s.tileSize !== t || s.channels !== c) {
      bad(
        `tile set ${k} has ${s.tileSize}x${s.tileSize}x${s.channels} tiles; set 0 has ${t}x${t}x${c} (one batch needs one shape)`,
      );
    }
    if (s.tiles.length !== s.count * t * t * c) {
      bad(
        `tile set ${k} holds ${s.tiles.length} values; ${s.count} tiles of ${t}x${t}x${c} need ${s.count * t * t * c}`,
      );
    }
  });
  const px = t * t;
  const outs = sets.map((s) => ({
    inner: new Float32Array(s.count * px),
    outer: new Float32Array(s.count * px),
    fg: new Float32Array(s.count * px),
  }));
  const queue = sets.flatMap((s, set) =>
    Array.from({ length: s.count * tta }, (_, i) => ({ set, tile: Math.floor(i / tta), k: i % tta })),
  );
  // Sums of the mapped-back outputs of tiles whose transforms are not all predicted yet (at most the tiles
  // of one batch plus one), by `${set}:${tile}`.
  const sums = new Map<string, { inner: Float64Array; outer: Float64Array; fg: Float64Array; n: number }>();
  for (let start = 0; start < queue.length; start += batchSize) {
    const items = queue.slice(start, start + batchSize);
    const batch = new Float32Array(items.length * px * c);
    items.forEach(({ set, tile, k }, b) => {
      const pixels = sets[set]!.tiles.subarray(tile * px * c, (tile + 1) * px * c);
      if (k === 0) batch.set(pixels, b * px * c);
      else dihedralTransform(pixels, t, c, k, batch.subarray(b * px * c, (b + 1) * px * c));
    });
    const maps = await runner.predict(batch, items.length, t, t, c);
    items.forEach(({ set, tile, k }, b) => {
      if (tta === 1) {
        for (const head of HEADS) outs[set]![head].set(maps[head].subarray(b * px, (b + 1) * px), tile * px);
        return;
      }
      const key = `${set}:${tile}`;
      let sum = sums.get(key);
      if (!sum) {
        sum = { inner: new Float64Array(px), outer: new Float64Array(px), fg: new Float64Array(px), n: 0 };
        sums.set(key, sum);
      }
      for (const head of HEADS)
        addDihedralInverse(maps[head].subarray(b * px, (b + 1) * px), t, k, sum[head]);
      if (++sum.n < tta) return;
      for (const head of HEADS) {
        const out = outs[set]![head].subarray(tile * px, (tile + 1) * px);
        const acc = sum[head];
        for (let i = 0; i < px; i++) out[i] = acc[i]! / tta;
      }
      sums.delete(key);
    });
  }
  return outs;
}
