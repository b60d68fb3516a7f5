import type { ModelRunner } from '../model/runners.js';
import type { Labels } from '../image/types.js';
import type { SegmentationOptions } from '../queues/payloads.js';

/** A model card as the service sees it: name, version and whatever the model's stages read. */
export interface CardLike {
  readonly name: string;
  readonly version: number | string;
  readonly [field: string]: unknown;
}

/** Per-job options of the stages, after defaults. `maxPixels` caps the decoded image (values, not bytes). */
export interface StageOptions extends SegmentationOptions {
  readonly maxPixels: number;
  /** Most pages (TIFF IFDs) in one image file. @default - the decoder's, 10,000 */
  readonly maxFrames?: number;
}

/**
 * One preprocessed image: tiles `[n, h, w, c]` float32 (normalized as the card says), plus whatever the
 * postprocess stage needs to put the tiles back together (`meta`, may hold typed arrays). It travels to
 * the predict and postprocess stages through the bucket (see tensor-pack.ts), never through Redis.
 */
export interface PreparedImage {
  readonly tiles: Float32Array;
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly meta: unknown;
}

/**
 * Other models a job's stages may load besides the job's own (whole-cell's `cellModel`), by name and
 * optionally version (the newest when none). The predict processor gives one over the worker's registry
 * (runners shared and batched like the job model's); the in-process runner over a models folder.
 */
export interface ModelAccess {
  load(name: string, version?: string): Promise<{ readonly runner: ModelRunner; readonly card: CardLike }>;
}

/**
 * The image/model work of one segmentation, split at the pool boundaries. Processors only load, call
 * these, save and report; the math lives in workers/pipeline and workers/image. Two implementations:
 * `pipelineStages` (the real pipeline, same code as `kiosk segment`) and `trivialStages` (tests/bench).
 */
export interface SegmentationStages {
  /**
   * Decodes image bytes and prepares model tiles at `scale` (image px → model px; undefined: from the
   * options, e.g. µm/px). Throws ImageError for bad input.
   */
  preprocess(
    bytes: Uint8Array,
    name: string,
    card: CardLike,
    opts: StageOptions,
    scale?: number,
  ): PreparedImage | Promise<PreparedImage>;
  /**
   * Runs the model over the tiles; the result (head maps, any JSON-like value with typed arrays) goes to
   * postprocess. `models`: other models the stages may run here too (see ModelAccess). @default - none
   */
  predict(
    prepared: PreparedImage,
    runner: ModelRunner,
    card: CardLike,
    models?: ModelAccess,
  ): Promise<unknown>;
  /** Turns model outputs back into a label image [H, W] of the input's size. */
  postprocess(outputs: unknown, meta: unknown, card: CardLike, opts: StageOptions): Labels | Promise<Labels>;
  /**
   * After pass `pass` (1-based): the scale of another pass (e.g. at the measured nucleus size), or
   * undefined when these labels are the result. @default - one pass
   */
  nextScale?(
    labels: Labels,
    meta: unknown,
    card: CardLike,
    opts: StageOptions,
    pass: number,
  ): number | undefined;
  /**
   * Encodes labels as a TIFF file; with the prepared image's `meta` and the job's options it states the
   * pixel size (the options' µm/px, else the input file's) and, for an OME-TIFF input, OME-XML.
   */
  encodeLabels(labels: Labels, meta?: unknown, opts?: StageOptions): Uint8Array;
}
