/**
 * Defaults and validation shared by the pipeline stages. Every check throws `ImageError` with a message
 * that names the option, the allowed range and the value received.
 */
import { ImageError } from '../image/types.js';
import type { DeepWatershedOptions } from '../image/watershed.js';
import type { ModelCard } from '../model/model-io.js';

/** Tile side (px) fed to the model; a multiple of the card's `sizeMultiple`. */
export const DEFAULT_TILE_SIZE = 256;
/** Minimum overlap (px) between neighbouring tiles, blended with a Hann window. */
export const DEFAULT_OVERLAP = 32;
/** Tiles per model call. */
export const DEFAULT_BATCH_SIZE = 4;
/** Rescale factors the pipeline accepts (image px → model px). */
export const MIN_SCALE = 1 / 8;
export const MAX_SCALE = 8;

/**
 * Deep-watershed settings used when neither the card's `postprocess` nor the caller sets them.
 * Chosen on the val set with nuclear/1 (see the model card's `postprocess` once recorded there).
 */
export const PIPELINE_WATERSHED_DEFAULTS: DeepWatershedOptions = {
  radius: 3,
  maximaThreshold: 0.1,
  interiorThreshold: 0.5,
  maximaSmooth: 1,
  interiorSmooth: 1,
  smallObjectsThreshold: 10,
  fillHolesThreshold: 15,
};

export function bad(message: string): never {
  throw new ImageError('bad-argument', message);
}

export function checkPositiveInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    bad(`'${name}' must be an integer >= ${min}; got ${String(v)}`);
  return v;
}

export function checkPositiveNumber(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    bad(`'${name}' must be a positive finite number; got ${String(v)}`);
  return v;
}

export function checkScale(name: string, v: unknown): number {
  const s = checkPositiveNumber(name, v);
  if (s < MIN_SCALE || s > MAX_SCALE) bad(`'${name}' must be in [${MIN_SCALE}, ${MAX_SCALE}]; got ${s}`);
  return s;
}

/** The card's deep-watershed settings without its `method` tag. */
export function cardWatershedOptions(card: ModelCard): DeepWatershedOptions {
  if (!card.postprocess) return {};
  const { method: _method, ...rest } = card.postprocess;
  return rest as DeepWatershedOptions;
}
