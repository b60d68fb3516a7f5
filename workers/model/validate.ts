/**
 * Validation of a nuclear model the way it will be used: whole images, rescaled to the model's nucleus
 * size, network → maps → back to the original resolution → deep watershed → instance labels, scored
 * against the ground truth with F1 at IoU 0.5 and the DSB2018 score.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { resizeBilinear, resizeMap } from '../image/resize.js';
import type { FloatMap, Image, Labels } from '../image/types.js';
import { poolScores, scoreImage, type Scores } from '../image/metrics.js';
import { deepWatershed, type DeepWatershedOptions } from '../image/watershed.js';
import type { NucleiSample } from './dataset.js';

export interface NetworkMaps {
  readonly inner: FloatMap;
  readonly outer: FloatMap;
  /** P(foreground). */
  readonly fg: FloatMap;
}

/**
 * Runs the network on one normalized image [H, W, 1] (any size): zero-pads bottom/right to a multiple of
 * `multiple`, predicts, and crops the maps back to H x W.
 */
export function predictMaps(model: tfl.LayersModel, image: Image, multiple = 16): NetworkMaps {
  const { height: h, width: w } = image;
  const ph = Math.ceil(h / multiple) * multiple;
  const pw = Math.ceil(w / multiple) * multiple;
  const padded = new Float32Array(ph * pw);
  for (let y = 0; y < h; y++) padded.set(image.data.subarray(y * w, y * w + w), y * pw);
  const outs = tf.tidy(() => {
    const x = tf.tensor4d(padded, [1, ph, pw, 1]);
    return model.predict(x) as tf.Tensor[];
  });
  const [inner, outer, fgbg] = outs.map((t) => t.dataSync() as Float32Array);
  const fgChannels = outs[2]?.shape[3] ?? 1;
  tf.dispose(outs);
  const crop = (src: Float32Array, channels: number, ch: number): FloatMap => {
    const out = new Float32Array(h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) out[y * w + x] = src[(y * pw + x) * channels + ch]!;
    return { data: out, height: h, width: w };
  };
  return {
    inner: crop(inner!, 1, 0),
    outer: crop(outer!, 1, 0),
    fg: crop(fgbg!, fgChannels, fgChannels - 1),
  };
}

export interface SegmentOptions {
  /** Deep watershed options at the model's scale (radius and smoothing are in canonical px). */
  readonly watershed?: DeepWatershedOptions;
  /** Use the fg head as the mask (else outer distance). @default false */
  readonly useFg?: boolean;
  /** Size multiple of the network input. @default 16 */
  readonly multiple?: number;
}

/** Default post-processing at the canonical scale (targetDiameterPx ≈ 16). */
export const DEFAULT_WATERSHED: DeepWatershedOptions = {
  radius: 4,
  maximaThreshold: 0.1,
  interiorThreshold: 0.05,
  maximaSmooth: 0,
  interiorSmooth: 1,
};

/**
 * Segments a normalized image [H, W, 1] given the factor `scale` that brings its nuclei to the model's size:
 * resize (bilinear) → network → maps resized back to H x W → deep watershed with radius and smoothing divided
 * by `scale` → labels [H, W].
 */
export function segmentAtScale(
  model: tfl.LayersModel,
  image: Image,
  scale: number,
  opts: SegmentOptions = {},
): Labels {
  const h = Math.max(1, Math.round(image.height * scale));
  const w = Math.max(1, Math.round(image.width * scale));
  const input = h === image.height && w === image.width ? image : resizeBilinear(image, h, w);
  const maps = predictMaps(model, input, opts.multiple ?? 16);
  const back = (m: FloatMap): FloatMap =>
    m.height === image.height && m.width === image.width ? m : resizeMap(m, image.height, image.width);
  const ws = { ...DEFAULT_WATERSHED, ...opts.watershed };
  const inv = 1 / scale;
  const options: DeepWatershedOptions = {
    ...ws,
    radius: Math.max(1, Math.round((ws.radius ?? 4) * inv)),
    interiorSmooth: Math.min(64, (ws.interiorSmooth ?? 1) * inv),
    maximaSmooth: Math.min(64, (ws.maximaSmooth ?? 0) * inv),
  };
  const full = {
    inner: back(maps.inner),
    outer: back(maps.outer),
    ...(opts.useFg ? { fg: back(maps.fg) } : {}),
  };
  return deepWatershed(full, options);
}

export interface ValidationResult {
  /** F1 at IoU 0.5, pooled over all images (ΣTP, ΣFP, ΣFN; workers/image/metrics.ts `poolScores`). */
  readonly f1: number;
  /** DSB2018 score: per image, mean over IoU 0.5..0.95 of TP / (TP + FP + FN); then mean over images. */
  readonly dsb: number;
  /** Mean per-image F1 at IoU 0.5. */
  readonly f1PerImage: number;
  readonly images: number;
  readonly seconds: number;
}

/** Pools per-image scores into the figures training and the model card report. */
export function summarize(scores: readonly Scores[], seconds = 0): ValidationResult {
  const pooled = poolScores(scores);
  return {
    f1: pooled.f1_50,
    dsb: pooled.meanPerImage.dsb,
    f1PerImage: pooled.meanPerImage.f1_50,
    images: scores.length,
    seconds,
  };
}

/**
 * Validates on samples loaded with `keepOriginal` at the oracle scale (each image's true median nucleus
 * diameter); inference without ground truth estimates that scale instead (see the model card).
 */
export function validate(
  model: tfl.LayersModel,
  samples: readonly NucleiSample[],
  opts: SegmentOptions & { readonly scaleOf?: (s: NucleiSample) => number } = {},
): ValidationResult {
  const t0 = Date.now();
  const scores = samples.map((s) => {
    if (!s.original) throw new Error(`validation sample ${s.name} was loaded without keepOriginal`);
    const scale = opts.scaleOf ? opts.scaleOf(s) : s.scale;
    const pred = segmentAtScale(model, s.original.image, scale, opts);
    return scoreImage(pred, s.original.labels);
  });
  return summarize(scores, (Date.now() - t0) / 1000);
}
