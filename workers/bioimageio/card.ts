/**
 * The `bioimageio` section of a model card (card.json) of a model imported from a bioimage.io package.
 * When a card has it, the pipeline takes the model's declared pre-processing instead of the card's
 * percentile normalization, tiles with at least twice its halo as overlap, the runner feeds the model in its
 * own axis order and post-processing turns its outputs into labels the way `labels.method` says.
 */
import type { BioimageOp } from '../image/bioimage-ops.js';

/** What a channel of an output tensor is. */
export type OutputRole =
  /** cellkiosk heads (deep watershed) */
  | 'inner'
  | 'outer'
  | 'fg'
  | 'bg'
  /** foreground probability (threshold + distance-transform watershed, or the mask of a boundary model) */
  | 'foreground'
  /** boundary probability (seeded watershed) */
  | 'boundaries'
  | 'ignore';

export interface BioimageioOutput {
  readonly id: string;
  readonly axes: string;
  readonly channels: number;
  readonly postprocessing: readonly BioimageOp[];
  /** One role per channel. */
  readonly roles: readonly OutputRole[];
}

/** How the outputs become labels. */
export type LabelsMethod =
  | { readonly method: 'deep-watershed' }
  | {
      readonly method: 'foreground-watershed';
      readonly threshold: number;
      readonly minDistance: number;
      readonly minSize: number;
    }
  | {
      readonly method: 'boundary-watershed';
      readonly threshold: number;
      readonly boundaryThreshold: number;
      readonly minSize: number;
    };

export interface BioimageioCardSection {
  /** The rdf's format_version. */
  readonly formatVersion: string;
  /** The original rdf, kept in the model folder. */
  readonly rdf: string;
  readonly input: {
    readonly id: string;
    readonly axes: string;
    readonly minSize: { readonly y: number; readonly x: number };
    readonly step: { readonly y: number; readonly x: number };
  };
  /** Replaces the card's `input.normalization`. */
  readonly preprocessing: readonly BioimageOp[];
  readonly outputs: readonly BioimageioOutput[];
  /** The largest output halo in px: tiles overlap by at least twice this. */
  readonly halo: number;
  /** Tile side used unless the caller sets one (fits the model's size min/step). */
  readonly tileSize: number;
  readonly labels: LabelsMethod;
  /** The import's test-tensor check. */
  readonly test: {
    readonly passed: true;
    readonly maxAbsDiff: number;
    readonly mismatched: number;
    readonly values: number;
    readonly tolerance: {
      readonly relative: number;
      readonly absolute: number;
      readonly mismatchedPerMillion: number;
    };
  };
  readonly importedAt: string;
}

/** The card's bioimageio section, or undefined for a model of our own. */
export function bioimageioSection(card: {
  readonly [k: string]: unknown;
}): BioimageioCardSection | undefined {
  const s = card['bioimageio'];
  return typeof s === 'object' && s !== null ? (s as BioimageioCardSection) : undefined;
}
