/**
 * Which models GET /v1/models lists can be a `whole-cell` job's `cellModel` (its second stage), and how the
 * Segment page names them. The rule is the API's (workers/pipeline/cell-model.ts cellModelInfo, checked at
 * job creation): a bioimage.io import (its card has a `bioimageio` section) whose labels method is not deep
 * watershed (our inner/outer heads) and that takes 1 or 2 input channels. Pure: cards in, choices out.
 */
import type { ModelInfo } from '../api.js';

/** One entry of the "Cells from" chooser. */
export interface CellModelChoice {
  /** What the job's `options.cellModel` gets: `name@version`. */
  readonly value: string;
  /** e.g. `cells-fg v1 — foreground + boundaries (boundary watershed), 2 input channels (nuclear, membrane)`. */
  readonly label: string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;

/** What a labels method means for the cells, in words. */
const METHODS: Record<string, string> = {
  'foreground-watershed': 'foreground probability',
  'boundary-watershed': 'foreground + boundary probabilities',
};

const CHANNELS: Record<number, string> = {
  1: '1 input channel (membrane)',
  2: '2 input channels (nuclear, membrane)',
};

/** The chooser's entry for `m`, or undefined when the API would refuse it as a cellModel. */
export function cellModelChoice(m: ModelInfo): CellModelChoice | undefined {
  const section = obj(m.card?.['bioimageio']);
  if (!section) return undefined;
  const method = obj(section['labels'])?.['method'];
  if (method === 'deep-watershed') return undefined;
  const channels = obj(m.card?.['input'])?.['channels'];
  if (channels !== 1 && channels !== 2) return undefined;
  const what =
    typeof method === 'string' ? `${METHODS[method] ?? method} (${method.replace(/-/g, ' ')})` : undefined;
  return {
    value: `${m.name}@${m.version}`,
    label: [`${m.name} v${m.version}`, [what, CHANNELS[channels]].filter(Boolean).join(', ')].join(' — '),
  };
}

/** Every usable cell model of `models`, by name, newest version first within a name. */
export function cellModelChoices(models: readonly ModelInfo[]): CellModelChoice[] {
  return [...models]
    .sort((a, b) => a.name.localeCompare(b.name) || Number(b.version) - Number(a.version))
    .flatMap((m) => {
      const c = cellModelChoice(m);
      return c ? [c] : [];
    });
}
