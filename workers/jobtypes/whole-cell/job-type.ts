/**
 * `whole-cell` (DeepCell's Mesmer job; `mesmer` on the DeepCell-compatible routes): two channels, nuclear and
 * membrane/cytoplasm. The nuclei come from the nuclear model's stages on the nuclear channel; the cells from
 * the classical second stage, each nucleus grown over a foreground estimate on the membrane channel
 * (CellProfiler's Propagate, workers/image/propagate.ts). Two label images with the same ids: cells
 * (`NAME.labels.tif`, `_feature_0`, as Mesmer's whole-cell output comes first) and nuclei
 * (`NAME.nuclei.labels.tif`, `_feature_1`); each cell holds its nucleus.
 *
 * Option `cellModel` (a bioimage.io import, workers/pipeline/cell-model.ts) replaces the classical
 * foreground and propagation image: its foreground probability above its threshold is the mask (nuclei
 * always in), its boundary map (if any, else the membrane channel) the image the nuclei grow on. It runs in
 * the predict stage beside the nuclear model; preprocess carries the raw channels it takes.
 */
import { toImages } from '../../image/channels.js';
import { decodeImage } from '../../image/decode.js';
import { percentileNormalize } from '../../image/normalize.js';
import { cellsFromForeground, cellsFromNuclei } from '../../image/propagate.js';
import type { FloatMap, Image, Labels } from '../../image/types.js';
import type { ModelCard } from '../../model/model-io.js';
import { cellModelInfo, cellModelMaps, parseModelRef } from '../../pipeline/cell-model.js';
import type { PreparedImage } from '../../processors/stages.js';
import { BadInputError } from '../../queues/errors.js';
import type { JobTypeDefinition } from '../types.js';

/** What travels from preprocess to postprocess: the model stages' own meta and the membrane channel. */
interface WholeCellMeta {
  readonly base: unknown;
  readonly membrane: Float32Array;
  readonly h: number;
  readonly w: number;
  /**
   * With `cellModel`: the model (`name@version` as given) and the raw channels [H, W, 2] (nuclear, membrane;
   * float32, not normalized: the model normalizes as it declares), from which predict picks what it takes.
   */
  readonly cell?: { readonly model: string; readonly raw: Float32Array };
}

/** What predict hands postprocess when the job has a cell model (else the model stages' own outputs). */
interface WholeCellOutputs {
  readonly base: unknown;
  readonly foreground: Float32Array;
  readonly boundaries?: Float32Array;
  readonly threshold: number;
}

/** The cell model's input from the raw pair [H, W, 2] (nuclear, membrane): both, or the membrane alone. */
function cellInput(raw: Float32Array, height: number, width: number, channels: 1 | 2): Image {
  if (channels === 2) return { data: raw, height, width, channels: 2 };
  const data = new Float32Array(height * width);
  for (let i = 0; i < data.length; i++) data[i] = raw[2 * i + 1]!;
  return { data, height, width, channels: 1 };
}

const plane = (m: WholeCellMeta, data: Float32Array): FloatMap => ({ data, height: m.h, width: m.w });

const wholeCell: JobTypeDefinition = {
  name: 'whole-cell',
  aliases: ['mesmer'],
  description:
    'whole-cell segmentation of two-channel images: cells (grown from the nuclei over the membrane channel) and their nuclei, same ids',
  input: {
    channels: [
      { name: 'nuclear', description: 'a nuclear stain (DAPI, Hoechst, H2B)' },
      { name: 'membrane', description: 'a membrane or cytoplasm stain (e.g. E-cadherin, Na/K-ATPase, CD45)' },
    ],
    axes: ['YX'],
    dtypes: ['uint8', 'uint16', 'uint32', 'int8', 'int16', 'int32', 'float32', 'float64'],
  },
  outputs: [
    { name: 'cells', kind: 'labels', description: 'whole cells, ids 1..N; cell k holds nucleus k' },
    { name: 'nuclei', kind: 'labels', description: 'nuclei, the same ids as their cells' },
  ],
  stages: (base) => ({
    async preprocess(bytes, name, card, opts, scale): Promise<PreparedImage> {
      const [n = 0, m = 1] = opts.channels ?? [];
      const raw = decodeImage(bytes, { name, maxPixels: opts.maxPixels, maxFrames: opts.maxFrames });
      const images = toImages(raw, {
        channels: opts.cellModel ? [n, m] : [m],
        ...(opts.dimensionOrder ? { dimensionOrder: opts.dimensionOrder } : {}),
      });
      if (images.length !== 1)
        throw new BadInputError(
          'stack-not-supported',
          `${name}: holds ${images.length} images (a Z/T stack); whole-cell takes one 2-D image`,
        );
      const pair = images[0]!;
      const membraneOnly = opts.cellModel ? cellInput(pair.data, pair.height, pair.width, 1) : pair;
      const { data: membrane, height: h, width: w } = percentileNormalize(membraneOnly);
      // the nuclear model sees the nuclear channel only
      const prepared = await base.preprocess(bytes, name, card, { ...opts, channels: [n] }, scale);
      const meta: WholeCellMeta = {
        base: prepared.meta,
        membrane,
        h,
        w,
        ...(opts.cellModel ? { cell: { model: opts.cellModel, raw: pair.data } } : {}),
      };
      return { ...prepared, meta };
    },
    async predict(prepared, runner, card, models) {
      const m = prepared.meta as WholeCellMeta;
      const nuclear = await base.predict({ ...prepared, meta: m.base }, runner, card, models);
      if (!m.cell) return nuclear;
      if (!models)
        throw new Error(`'cellModel' ${m.cell.model}: the stages were given no access to a second model`);
      const ref = parseModelRef(m.cell.model);
      const cell = await models.load(ref.name, ref.version);
      const cellCard = cell.card as unknown as ModelCard;
      const info = cellModelInfo(cellCard, `${cellCard.name}@${cellCard.version}`);
      const maps = await cellModelMaps(cellInput(m.cell.raw, m.h, m.w, info.channels), cell.runner, cellCard);
      return {
        base: nuclear,
        foreground: maps.foreground.data,
        ...(maps.boundaries ? { boundaries: maps.boundaries.data } : {}),
        threshold: maps.threshold,
      } satisfies WholeCellOutputs;
    },
    async postprocess(outputs, meta, card, opts) {
      const m = meta as WholeCellMeta;
      if (!m.cell) {
        const nuclei: Labels = await base.postprocess(outputs, m.base, card, opts);
        return { outputs: [cellsFromNuclei(nuclei, plane(m, m.membrane)), nuclei] };
      }
      const o = outputs as WholeCellOutputs;
      const nuclei: Labels = await base.postprocess(o.base, m.base, card, opts);
      const image = plane(m, o.boundaries ?? m.membrane);
      const cells = cellsFromForeground(nuclei, plane(m, o.foreground), image, { threshold: o.threshold });
      return { outputs: [cells, nuclei] };
    },
    // the scale of another pass is the nuclear model's, measured on the nuclei (output 1)
    nextScale: (_cells, meta, card, opts, pass, outputs) =>
      base.nextScale?.(outputs[1]!, (meta as WholeCellMeta).base, card, opts, pass),
    encodeLabels: (labels, meta, opts) =>
      base.encodeLabels(labels, (meta as WholeCellMeta | undefined)?.base, opts),
  }),
};

export default wholeCell;
