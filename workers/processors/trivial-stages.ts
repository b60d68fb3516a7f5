/**
 * A TRIVIAL model and stage set for testing and benchmarking the orchestration without the real network:
 * `TrivialThresholdRunner` thresholds the (normalized) input into fake distance maps, and `trivialStages`
 * decode → take the channels → scale to [0, 1] → one tile, then label the connected components of the
 * foreground map. It segments bright blobs, nothing more; never use it for results.
 */
import { decodeImage } from '../image/decode.js';
import { toImages } from '../image/channels.js';
import { connectedComponents } from '../image/labels.js';
import { encodeLabelsTiff } from '../image/tiff-write.js';
import { labelSource, labelTiffOptions, type LabelSource } from '../image/tiff-write-labels.js';
import type { HeadMaps, ModelRunner } from '../model/runners.js';
import type { CardLike, PreparedImage, SegmentationStages } from './stages.js';

export const TRIVIAL_CARD: CardLike = { name: 'trivial', version: 1, task: 'testing-only threshold model' };

/** inner = outer = fg = (channel 0 > threshold ? 1 : 0), per pixel of each tile `[N, H, W, C]`. */
export class TrivialThresholdRunner implements ModelRunner {
  readonly name = 'trivial';
  readonly runtime = 'trivial-threshold (test only)';
  /** Model calls seen (tests check batching with it). */
  readonly calls: number[] = [];
  /**
   * @param threshold foreground above this input value
   * @param delayMs time each call takes, as if a device were busy (lets tests see batching across jobs)
   */
  constructor(
    readonly threshold = 0.5,
    readonly delayMs = 0,
  ) {}

  async predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    if (batch.length !== n * h * w * c)
      throw new RangeError(`batch has ${batch.length} values, expected ${n * h * w * c}`);
    this.calls.push(n);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const fg = new Float32Array(n * h * w);
    for (let i = 0; i < fg.length; i++) fg[i] = batch[i * c]! > this.threshold ? 1 : 0;
    return { inner: fg, outer: fg.slice(), fg: fg.slice() };
  }

  async dispose(): Promise<void> {}
}

/** The trivial stages; see the module comment. Labels: 8-connected components of fg > 0.5, raster order. */
export const trivialStages: SegmentationStages = {
  preprocess(bytes, name, _card, opts): PreparedImage {
    const raw = decodeImage(bytes, { name, maxPixels: opts.maxPixels, maxFrames: opts.maxFrames });
    const [image] = toImages(raw, {
      ...(opts.channels?.length ? { channels: opts.channels } : { channels: [0] }),
      ...(opts.dimensionOrder ? { dimensionOrder: opts.dimensionOrder } : {}),
    });
    if (!image) throw new RangeError(`${name}: no image in the file`);
    let max = 0;
    for (const v of image.data) if (v > max) max = v;
    const tiles = new Float32Array(image.data.length);
    for (let i = 0; i < tiles.length; i++) tiles[i] = max > 0 ? image.data[i]! / max : 0;
    return {
      tiles,
      n: 1,
      h: image.height,
      w: image.width,
      c: image.channels,
      meta: { h: image.height, w: image.width, source: labelSource(raw, bytes) },
    };
  },
  async predict(p, runner) {
    return runner.predict(p.tiles, p.n, p.h, p.w, p.c);
  },
  postprocess(outputs, meta) {
    const { fg } = outputs as HeadMaps;
    const { h, w } = meta as { h: number; w: number };
    const mask = new Uint8Array(h * w);
    for (let i = 0; i < mask.length; i++) mask[i] = fg[i]! > 0.5 ? 1 : 0;
    return connectedComponents(mask, h, w, 2);
  },
  encodeLabels(labels, meta, opts) {
    const source = (meta as { source?: LabelSource } | undefined)?.source;
    return encodeLabelsTiff(labels, labelTiffOptions(source, opts?.micronsPerPixel));
  },
};

/** The trivial model as a registry entry `trivial@1` (for KIOSK_TRIVIAL_MODEL=1 processes: tests, benchmarks). */
export function trivialModels(
  delayMs = 0,
): Record<string, { card: CardLike; createRunner(): Promise<ModelRunner> }> {
  return {
    'trivial@1': { card: TRIVIAL_CARD, createRunner: async () => new TrivialThresholdRunner(0.5, delayMs) },
  };
}
