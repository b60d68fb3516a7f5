/**
 * `whole-cell` (DeepCell's Mesmer job; `mesmer` on the DeepCell-compatible routes): two channels, nuclear and
 * membrane/cytoplasm. The nuclei come from the nuclear model's stages on the nuclear channel; the cells from
 * the classical second stage, each nucleus grown over a foreground estimate on the membrane channel
 * (CellProfiler's Propagate, workers/image/propagate.ts). Two label images with the same ids: cells
 * (`NAME.labels.tif`, `_feature_0`, as Mesmer's whole-cell output comes first) and nuclei
 * (`NAME.nuclei.labels.tif`, `_feature_1`); each cell holds its nucleus.
 */
import { toImages } from '../../image/channels.js';
import { decodeImage } from '../../image/decode.js';
import { percentileNormalize } from '../../image/normalize.js';
import { cellsFromNuclei } from '../../image/propagate.js';
import type { FloatMap, Labels } from '../../image/types.js';
import type { PreparedImage } from '../../processors/stages.js';
import { BadInputError } from '../../queues/errors.js';
import type { JobTypeDefinition } from '../types.js';

/** What travels from preprocess to postprocess: the model stages' own meta and the membrane channel. */
interface WholeCellMeta {
  readonly base: unknown;
  readonly membrane: Float32Array;
  readonly h: number;
  readonly w: number;
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
        channels: [m],
        ...(opts.dimensionOrder ? { dimensionOrder: opts.dimensionOrder } : {}),
      });
      if (images.length !== 1)
        throw new BadInputError(
          'stack-not-supported',
          `${name}: holds ${images.length} images (a Z/T stack); whole-cell takes one 2-D image`,
        );
      const { data: membrane, height: h, width: w } = percentileNormalize(images[0]!);
      // the nuclear model sees the nuclear channel only
      const prepared = await base.preprocess(bytes, name, card, { ...opts, channels: [n] }, scale);
      const meta: WholeCellMeta = { base: prepared.meta, membrane, h, w };
      return { ...prepared, meta };
    },
    predict: (prepared, runner, card) =>
      base.predict({ ...prepared, meta: (prepared.meta as WholeCellMeta).base }, runner, card),
    async postprocess(outputs, meta, card, opts) {
      const m = meta as WholeCellMeta;
      const nuclei: Labels = await base.postprocess(outputs, m.base, card, opts);
      const cells = cellsFromNuclei(nuclei, plane(m, m.membrane));
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
