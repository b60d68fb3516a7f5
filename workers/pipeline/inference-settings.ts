/**
 * Tiles, batches and threads sized to the machine (issue 22 #3): one pure function of the core count, so
 * the settings for a 16-core node are the same code path as this 2-core machine's, and tested.
 * Measured with `npm run bench tiling` (docs/performance.md has the figures, machine and date):
 * - Tile size: the network's CPU cost per tile pixel hardly depends on the tile (256/384/512) or the batch,
 *   so the cost per image pixel follows how many tile pixels the overlap makes the image need. With the
 *   pipeline's 32-px overlap a 1024² image needs 1.56x its pixels in 256-px tiles, 1.27x in 384-px tiles and
 *   2.25x in 512-px tiles; 384 was cheapest per Mpx at 1 and 2 threads.
 * - Batch: 1, 4 and 16 tiles per call cost within the run-to-run spread of each other on the CPU, 16 mostly
 *   the most; 4 bounds memory with no measured loss.
 * - Threads: every core. On 2 cores the job service's throughput was highest with the inference worker on
 *   every core (threads that sleep when idle, core/config.ts KIOSK_ONNX_THREADS), and a lone `kiosk segment`
 *   has nothing else to share them with. Not measured beyond 2 cores (no 16-core machine was lent).
 */

export interface InferenceSettings {
  /**
   * Tile side (px) fed to the model: 'fit' = per image, {@link fitTileSize} (the side in 256..512 that
   * covers the image with the fewest tile pixels).
   */
  readonly tileSize: 'fit';
  /** Tiles per model call when one image is segmented (`kiosk segment`, segmentImage). */
  readonly batchSize: number;
  /** onnxruntime intra-op threads of the process that runs the model. */
  readonly intraOpThreads: number;
  /** Most tiles per model call in the job service's inference worker (KIOSK_BATCH_TILES). */
  readonly serviceBatchTiles: number;
}

/** Smallest and largest tile side {@link fitTileSize} picks from (the range measured, see above). */
export const FIT_TILE_MIN = 256;
export const FIT_TILE_MAX = 512;
/** The tiles per call of one image. */
export const MEASURED_BATCH_SIZE = 4;

/**
 * Inference settings for a machine with `cores` cores (os.availableParallelism()).
 * @throws RangeError when `cores` is not an integer >= 1.
 */
export function inferenceSettings(cores: number): InferenceSettings {
  if (!Number.isInteger(cores) || cores < 1)
    throw new RangeError(`cores must be an integer >= 1; got ${String(cores)}`);
  return {
    tileSize: 'fit',
    batchSize: MEASURED_BATCH_SIZE,
    intraOpThreads: cores,
    serviceBatchTiles: 16,
  };
}

/** Tiles along one axis of `length` px (as ../image/tiling.ts lays them: stride at most tile - overlap). */
function tilesAlong(length: number, tile: number, overlap: number): number {
  return length <= tile ? 1 : Math.ceil((length - tile) / (tile - overlap)) + 1;
}

/**
 * The tile side for an image of `height` x `width` (px, at the model's scale): the multiple of `multiple`
 * in [FIT_TILE_MIN, FIT_TILE_MAX] whose tiles cover the image with the fewest tile pixels (the network's
 * cost per tile pixel being about the same for every side in that range); the smaller side on a tie.
 * An image smaller than FIT_TILE_MIN gets one tile of FIT_TILE_MIN (reflect-padded), as before.
 */
export function fitTileSize(height: number, width: number, overlap: number, multiple = 16): number {
  let best = 0;
  let bestPx = Infinity;
  const first = Math.ceil(FIT_TILE_MIN / multiple) * multiple;
  for (let t = first; t <= Math.max(first, FIT_TILE_MAX); t += multiple) {
    if (t <= overlap) continue;
    const px = tilesAlong(height, t, overlap) * tilesAlong(width, t, overlap) * t * t;
    if (px < bestPx) [best, bestPx] = [t, px];
  }
  return best;
}
