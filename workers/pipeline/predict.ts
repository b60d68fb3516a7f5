/**
 * Stage 2 of segmentation: tiles → the network's head maps, in batches.
 * Batching is a plain function over tile sets, so the inference worker can pool tiles of several jobs into
 * one batch and hand each job back exactly its own maps.
 */
import type { TileSet } from '../image/tiling.js';
import type { HeadMaps, ModelRunner } from '../model/runners.js';
import { bad, checkPositiveInt, DEFAULT_BATCH_SIZE } from './options.js';

export interface PredictOptions {
  /** Tiles per model call (bounds memory: one batch of inputs and outputs at a time). @default 4 */
  readonly batchSize?: number;
}

/** The tile pixels of a set: what predict needs (a `TileSet` fits). */
export type TileInput = Pick<TileSet, 'tiles' | 'count' | 'tileSize' | 'channels'>;

/**
 * Runs `runner` over every tile of every set, `batchSize` tiles per call (tiles of different sets share a
 * batch), and returns one `HeadMaps` per set, each map [count, T, T] in the set's tile order.
 * All sets must have the same tile size and channel count (one model input shape).
 * @throws ImageError 'bad-argument' for mixed tile sizes/channels, a set whose `tiles` length is not
 *   count * T * T * C, or a bad batchSize. Runner errors pass through.
 */
export async function predictTiles(
  runner: ModelRunner,
  sets: readonly TileInput[],
  opts: PredictOptions = {},
): Promise<HeadMaps[]> {
  const batchSize = checkPositiveInt('batchSize', opts.batchSize ?? DEFAULT_BATCH_SIZE);
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
  const queue = sets.flatMap((s, set) => Array.from({ length: s.count }, (_, tile) => ({ set, tile })));
  for (let start = 0; start < queue.length; start += batchSize) {
    const items = queue.slice(start, start + batchSize);
    const batch = new Float32Array(items.length * px * c);
    items.forEach(({ set, tile }, b) =>
      batch.set(sets[set]!.tiles.subarray(tile * px * c, (tile + 1) * px * c), b * px * c),
    );
    const maps = await runner.predict(batch, items.length, t, t, c);
    items.forEach(({ set, tile }, b) => {
      for (const head of ['inner', 'outer', 'fg'] as const)
        outs[set]![head].set(maps[head].subarray(b * px, (b + 1) * px), tile * px);
    });
  }
  return outs;
}
