/**
 * A whole-cell model imported from bioimage.io as the second stage of `whole-cell` (issue 21 #3): the
 * nuclear model gives the nuclei, this model the cells' foreground probability (and a boundary probability
 * when it has one). It runs as the pipeline runs any import: its declared pre-processing, its tile size and
 * halo, its runner's outputs blended back (untileMaps) — at the image's own pixel size (scale 1: a pixel
 * classifier has no nucleus size to match). The whole-cell job type wires it; the math is here and in
 * ../image/propagate.ts (cellsFromForeground).
 */
import { bioimageioSection, type BioimageioCardSection } from '../bioimageio/card.js';
import { ImageError, type FloatMap, type Image } from '../image/types.js';
import type { ModelCard } from '../model/model-io.js';
import type { ModelRunner } from '../model/runners.js';
import { untileMaps } from './postprocess.js';
import { predictBatches } from './predict.js';
import { prepareTiles } from './preprocess.js';
import { resolveSettings } from './settings.js';

/** `name` or `name@version` (version: a decimal integer). */
export interface ModelRef {
  readonly name: string;
  readonly version?: string;
}

const REF = /^([A-Za-z0-9][A-Za-z0-9_-]{0,63})(?:@([0-9]{1,9}))?$/;

/** Reads `name` or `name@version`; throws ImageError 'bad-argument' naming `what` for anything else. */
export function parseModelRef(text: string, what = 'cellModel'): ModelRef {
  const m = REF.exec(text);
  if (!m)
    throw new ImageError(
      'bad-argument',
      `'${what}' must be a model name or name@version (e.g. cells-fg or cells-fg@2); got ${JSON.stringify(text)}`,
    );
  return { name: m[1]!, ...(m[2] !== undefined ? { version: m[2] } : {}) };
}

/** What a whole-cell model is, read from its card. */
export interface CellModelInfo {
  /** Channels it takes: 1 = the membrane channel, 2 = [nuclear, membrane]. */
  readonly channels: 1 | 2;
  /** It predicts a boundary probability beside the foreground (its labels method is boundary-watershed). */
  readonly boundaries: boolean;
  /** Foreground above this is a cell: the import's threshold. */
  readonly threshold: number;
  readonly section: BioimageioCardSection;
}

/**
 * Checks that `card` (model `label`, e.g. `cells-fg@1`) can be a whole-cell model: a bioimage.io import
 * whose outputs are a foreground probability (+ boundaries), taking 1 or 2 channels.
 * @throws ImageError 'bad-argument' naming the model and what it is instead.
 */
export function cellModelInfo(card: { readonly [k: string]: unknown }, label: string): CellModelInfo {
  const section = bioimageioSection(card);
  if (!section)
    throw new ImageError(
      'bad-argument',
      `'cellModel' ${label} is not a bioimage.io import (kiosk models import); a whole-cell model must be one whose outputs are a foreground probability, with or without boundaries`,
    );
  const labels = section.labels;
  if (labels.method === 'deep-watershed')
    throw new ImageError(
      'bad-argument',
      `'cellModel' ${label} predicts nuclei by deep watershed (inner/outer distance heads), not a whole-cell foreground; import a model whose outputs are a foreground probability, with or without boundaries`,
    );
  const input = (card['input'] ?? {}) as { channels?: unknown };
  const channels = input.channels;
  if (channels !== 1 && channels !== 2)
    throw new ImageError(
      'bad-argument',
      `'cellModel' ${label} takes ${String(channels)} channel(s); a whole-cell model takes 1 (membrane) or 2 (nuclear, membrane)`,
    );
  return {
    channels,
    boundaries: labels.method === 'boundary-watershed',
    threshold: Number.isFinite(labels.threshold) ? labels.threshold : 0.5,
    section,
  };
}

/** A whole-cell model's maps of one image [H, W], at the image's size. */
export interface CellModelMaps {
  readonly foreground: FloatMap;
  /** Its boundary probability, when it predicts one. */
  readonly boundaries?: FloatMap;
  /** The import's foreground threshold (else 0.5). */
  readonly threshold: number;
}

/**
 * Runs the whole-cell model (`runner`, `card`) on `image` [H, W, C] — raw values, C its channel count — with
 * its own pre-processing, tiling and batch settings (resolveSettings of its card), at scale 1, and blends
 * the tiles back. @throws ImageError 'bad-argument' when the card is not a whole-cell model
 * ({@link cellModelInfo}) or the image has another channel count than it takes.
 */
export async function cellModelMaps(
  image: Image,
  runner: ModelRunner,
  card: ModelCard,
): Promise<CellModelMaps> {
  const info = cellModelInfo(card, `${card.name}@${card.version}`);
  if (image.channels !== info.channels)
    throw new ImageError(
      'bad-argument',
      `whole-cell model ${card.name}@${card.version} takes ${info.channels} channel(s); got an image of ${image.channels}`,
    );
  const settings = resolveSettings(card, { scale: 1, autoscale: false });
  const prepared = prepareTiles(image, card, 1, settings.tiling);
  const [maps] = await predictBatches(runner, [prepared.tiles], settings.predict);
  const { tiles: _pixels, ...grid } = prepared.tiles;
  const full = untileMaps(maps!, grid, settings.labels.window);
  return {
    foreground: full.fg,
    ...(info.boundaries ? { boundaries: full.outer } : {}),
    threshold: info.threshold,
  };
}
