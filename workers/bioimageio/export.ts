/**
 * Exports one of our model folders (card.json + model.onnx) as a bioimage.io model package, format 0.5:
 * rdf.yaml, model.onnx, README.md and a test input with the outputs the model gives for it (.npy).
 *
 * The package states what any bioimage.io consumer needs: input axes batch, y, x, channel (our NHWC graph
 * as it is), sizes min 2^depth step 2^depth, the pre-processing `scale_range` with the card's percentiles
 * (per sample, per channel; eps 1e-6), three outputs (inner distance, outer distance, fg/bg softmax) with a
 * halo, and the ONNX weights with their sha256. `config.cellkiosk` carries what only this kiosk reads back:
 * the card's input contract (pixel size, nucleus diameter: the scale the pipeline rescales images to), its
 * deep-watershed settings and which output channel is which. The import then pre-processes by the rdf's
 * scale_range like any consumer (it differs from our percentile normalization only by eps = 1e-6 in the
 * denominator) and segments as the model it came from: equal labels on all 68 val images when measured.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { scaleRange } from '../image/bioimage-ops.js';
import { randomDisks, seededRandom } from '../image/synthetic-nuclei.js';
import type { Image } from '../image/types.js';
import { packZip } from '../image/zip.js';
import { readModelCard, type ModelCard } from '../model/model-io.js';
import { writeNpy } from './npy.js';
import { BioimageioError } from './rdf.js';
import { openSession, runSession } from './runner.js';

export interface ExportOptions {
  /** The test input [H, W] (one channel, raw intensities); H and W are cropped to multiples of the size multiple. @default - a synthetic 128x128 image of nuclei */
  readonly testImage?: Image;
  /** Halo of the outputs in px (the pipeline overlaps tiles by twice this). @default 16 */
  readonly halo?: number;
}

/** A synthetic fluorescence image [H, W, 1]: bright disks (nuclei) on a dim noisy background. */
export function syntheticNucleiImage(size = 128, seed = 7): Image {
  const disks = randomDisks(14, size, size, { minR: 5, maxR: 9, spacing: 1.1, seed });
  const rand = seededRandom(seed + 1);
  const data = new Float32Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = 20 + 6 * rand();
  for (const d of disks)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const r = Math.hypot(y - d.cy, x - d.cx);
        if (r <= d.r) data[y * size + x]! += 120 * (1 - 0.4 * (r / d.r) ** 2);
      }
  return { data, height: size, width: size, channels: 1 };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The package's files (name → bytes) for the model in `modelDir`. */
export async function bioimageioPackage(
  modelDir: string,
  opts: ExportOptions = {},
): Promise<Map<string, Uint8Array>> {
  const card: ModelCard = await readModelCard(modelDir);
  if (card['bioimageio'])
    throw new BioimageioError(
      'bad-package',
      `${modelDir} is itself a bioimage.io import; export the original package (its rdf.yaml is kept there)`,
    );
  const onnx = await readFile(join(modelDir, 'model.onnx')).catch(() => {
    throw new BioimageioError(
      'missing-file',
      `${modelDir} has no model.onnx to export (kiosk export-onnx writes it)`,
    );
  });
  const m = card.input.sizeMultiple;
  const c = card.input.channels;
  if (c !== 1) throw new BioimageioError('bad-package', `export of ${c}-channel models is not supported yet`);
  const halo = opts.halo ?? 16;
  let test = opts.testImage ?? syntheticNucleiImage();
  const h = Math.floor(test.height / m) * m;
  const w = Math.floor(test.width / m) * m;
  if (h < m || w < m) throw new BioimageioError('bad-package', `the test image must be at least ${m}x${m}`);
  if (h !== test.height || w !== test.width) {
    const data = new Float32Array(h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) data[y * w + x] = test.data[(y * test.width + x) * test.channels]!;
    test = { data, height: h, width: w, channels: 1 };
  }
  const { low, high } = card.input.normalization;
  const pre = {
    op: 'scale_range',
    perChannel: true,
    minPercentile: low,
    maxPercentile: high,
    eps: 1e-6,
  } as const;
  const normalized = scaleRange(test, pre);
  const session = await openSession(onnx);
  const outputNames = [...session.outputNames];
  let outs;
  try {
    outs = await runSession(session, normalized.data, [1, h, w, 1], outputNames);
  } finally {
    await session.release();
  }
  const ids = outputNames.map((n) => n.toLowerCase().replace(/[^a-z0-9_]/g, '_'));
  const roleOf = (name: string, channels: number): string[] =>
    /inner/i.test(name)
      ? ['inner']
      : /outer/i.test(name)
        ? ['outer']
        : channels === 2
          ? ['bg', 'fg']
          : ['fg'];
  const channelNames = (name: string, channels: number): string[] =>
    /inner/i.test(name)
      ? ['inner_distance']
      : /outer/i.test(name)
        ? ['outer_distance']
        : channels === 2
          ? ['background', 'foreground']
          : ['foreground'];
  const files = new Map<string, Uint8Array>();
  const inputNpy = writeNpy(test.data, [1, h, w, 1]);
  files.set('test_input.npy', inputNpy);
  const outputs = outs.map((o, k) => {
    const ch = o.dims[3]!;
    const file = `test_output_${ids[k]}.npy`;
    const bytes = writeNpy(o.data, o.dims);
    files.set(file, bytes);
    return {
      id: ids[k],
      description: `${outputNames[k]} head of the cellkiosk model`,
      axes: [
        { type: 'batch' },
        { type: 'space', id: 'y', size: { tensor_id: 'raw', axis_id: 'y' }, halo },
        { type: 'space', id: 'x', size: { tensor_id: 'raw', axis_id: 'x' }, halo },
        { type: 'channel', channel_names: channelNames(outputNames[k]!, ch) },
      ],
      test_tensor: { source: file, sha256: sha256(bytes) },
      data: { type: 'float32' },
    };
  });
  const roles = outs.map((o, k) => roleOf(outputNames[k]!, o.dims[3]!));
  const readme = [
    `# ${card.name} (cellkiosk nuclear segmentation model, version ${card.version})`,
    '',
    'A U-Net with three heads: inner distance, outer distance and a foreground/background softmax.',
    'Labels come from a deep watershed (seeds: maxima of the inner distance; mask: P(foreground); flooding',
    'the negated outer distance). Input: one fluorescence channel, percentile-normalized per image',
    `(${low} → 0, ${high} → 1), nuclei at about ${card.input.targetDiameterPx} px (${card.input.mpp} µm/px).`,
    '',
    'Exported by `kiosk models export` of cellkiosk.',
    '',
  ].join('\n');
  files.set('README.md', Buffer.from(readme, 'utf8'));
  files.set('model.onnx', onnx);
  const rdf = {
    type: 'model',
    format_version: '0.5.3',
    name: `cellkiosk ${card.name}`,
    description: `cellkiosk ${card.name} model version ${card.version}: nuclear segmentation (inner/outer distance + fg/bg heads, deep watershed)`,
    authors: [{ name: 'cellkiosk' }],
    cite: [
      {
        text: 'Deep watershed (DeepCell): Greenwald et al. 2022, Whole-cell segmentation of tissue images with human-level performance',
        doi: '10.1038/s41587-021-01094-0',
      },
    ],
    license: 'Apache-2.0',
    documentation: 'README.md',
    tags: ['nuclei', 'segmentation', 'fluorescence-light-microscopy', '2d', 'onnx', 'cellkiosk'],
    inputs: [
      {
        id: 'raw',
        description: 'one fluorescence channel, raw intensities',
        axes: [
          { type: 'batch' },
          { type: 'space', id: 'y', size: { min: m, step: m } },
          { type: 'space', id: 'x', size: { min: m, step: m } },
          { type: 'channel', channel_names: ['nuclear'] },
        ],
        test_tensor: { source: 'test_input.npy', sha256: sha256(inputNpy) },
        data: { type: 'float32' },
        preprocessing: [
          {
            id: 'scale_range',
            kwargs: { axes: ['y', 'x'], min_percentile: low, max_percentile: high, eps: 1e-6 },
          },
        ],
      },
    ],
    outputs,
    weights: { onnx: { source: 'model.onnx', sha256: sha256(onnx), opset_version: 13 } },
    config: {
      cellkiosk: {
        input: card.input,
        ...(card.postprocess ? { postprocess: card.postprocess } : {}),
        roles,
        model: `${card.name}/${card.version}`,
      },
    },
  };
  files.set('rdf.yaml', Buffer.from(stringify(rdf, { lineWidth: 0 }), 'utf8'));
  return files;
}

/** Writes the package to `out`: a .zip file when it ends in .zip, else a folder. Returns the file names. */
export async function exportBioimageio(
  modelDir: string,
  out: string,
  opts: ExportOptions = {},
): Promise<string[]> {
  const files = await bioimageioPackage(modelDir, opts);
  if (out.toLowerCase().endsWith('.zip')) {
    await writeFile(out, packZip([...files].map(([name, data]) => ({ name, data }))));
  } else {
    await mkdir(out, { recursive: true });
    for (const [name, data] of files) await writeFile(join(out, name), data);
  }
  return [...files.keys()];
}
