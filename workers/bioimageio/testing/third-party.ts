/**
 * Third-party bioimage.io packages built from scratch to the spec, for tests: a tiny ONNX graph assembled
 * by hand (onnx-proto), an rdf.yaml and .npy test tensors whose outputs are computed here in plain
 * JavaScript (not by ONNX Runtime), so an import that lays the axes out wrongly or pre-processes
 * differently fails its test run.
 *
 * - `foregroundPackage05` (format 0.5.3): input bcyx (NCHW), zero_mean_unit_variance; graph: 3x3 mean
 *   filter → 4·s − 2 → Sigmoid; one output, channel 'nuclei_foreground', halo 8.
 * - `boundaryPackage04` (format 0.4.10): input bcyx, scale_range (per_sample, 1 / 99.8 %); graph: channel 0
 *   foreground logits 12·mean3x3 − 4, channel 1 boundary logits 4·(|sobel_x| + |sobel_y|) − 4, Concat;
 *   post-processing sigmoid; shape {reference_tensor, scale, offset}, halo [0, 0, 8, 8].
 */
import { createHash } from 'node:crypto';
import onnxProto from 'onnx-proto';
import { parse as parseYaml, stringify } from 'yaml';
import { scaleRange, zeroMeanUnitVariance } from '../../image/bioimage-ops.js';
import { randomDisks, seededRandom, type Disk } from '../../image/synthetic-nuclei.js';
import type { Image } from '../../image/types.js';
import { writeNpy } from '../npy.js';

const { onnx } = onnxProto;

/** A fluorescence-like image [H, W, 1] of well-separated disks, and the disks. */
export function separatedNuclei(size: number, seed: number, count = 10): { image: Image; disks: Disk[] } {
  const disks = randomDisks(count, size, size, { minR: 5, maxR: 8, spacing: 1.6, seed });
  const rand = seededRandom(seed + 100);
  const data = new Float32Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = 100 + 10 * rand();
  for (const d of disks)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        if (Math.hypot(y - d.cy, x - d.cx) <= d.r) data[y * size + x] = 900 + 50 * rand();
  return { image: { data, height: size, width: size, channels: 1 }, disks };
}

const F = onnx.TensorProto.DataType.FLOAT;
const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
const tensor = (name: string, dims: number[], values: number[]) => ({
  name,
  dims,
  dataType: F,
  floatData: values,
});
/** An ONNX value info: float32 [N, c, H, W] named `name` (the graphs' inputs and outputs). */
export const info = (name: string, c: number) => ({
  name,
  type: {
    tensorType: {
      elemType: F,
      shape: { dim: [{ dimParam: 'N' }, { dimValue: c }, { dimParam: 'H' }, { dimParam: 'W' }] },
    },
  },
});
const conv = (input: string, w: string, b: string, output: string) => ({
  input: [input, w, b],
  output: [output],
  opType: 'Conv',
  attribute: [ints('pads', [1, 1, 1, 1]), ints('kernel_shape', [3, 3])],
});
const op = (opType: string, input: string[], output: string, attribute: object[] = []) => ({
  input,
  output: [output],
  opType,
  attribute,
});

function encode(graph: object): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'third-party-test',
      graph,
    }),
  ).finish();
}

const MEAN3 = Array<number>(9).fill(1 / 9);
const SOBEL_X = [-1, 0, 1, -2, 0, 2, -1, 0, 1];
const SOBEL_Y = [-1, -2, -1, 0, 0, 0, 1, 2, 1];

/** The 0.5 model's graph: raw [N,1,H,W] → prob [N,1,H,W] = sigmoid(4·mean3x3(raw) − 2). */
export function foregroundOnnx(): Uint8Array {
  return encode({
    name: 'fg',
    initializer: [
      tensor('w', [1, 1, 3, 3], MEAN3),
      tensor('b', [1], [0]),
      tensor('gain', [], [4]),
      tensor('bias', [], [-2]),
    ],
    node: [
      conv('raw', 'w', 'b', 's'),
      op('Mul', ['s', 'gain'], 'g'),
      op('Add', ['g', 'bias'], 'z'),
      op('Sigmoid', ['z'], 'prob'),
    ],
    input: [info('raw', 1)],
    output: [info('prob', 1)],
  });
}

/** The 0.4 model's graph: input0 [N,1,H,W] → output0 [N,2,H,W] logits (foreground, boundary). */
export function boundaryOnnx(): Uint8Array {
  return encode({
    name: 'boundary',
    initializer: [
      tensor('wm', [1, 1, 3, 3], MEAN3),
      tensor('bm', [1], [0]),
      tensor('ws', [2, 1, 3, 3], [...SOBEL_X, ...SOBEL_Y]),
      tensor('bs', [2], [0, 0]),
      tensor('wsum', [1, 2, 1, 1], [1, 1]),
      tensor('bsum', [1], [0]),
      tensor('g1', [], [12]),
      tensor('o1', [], [-4]),
      tensor('g2', [], [4]),
      tensor('o2', [], [-4]),
    ],
    node: [
      conv('input0', 'wm', 'bm', 'm'),
      op('Mul', ['m', 'g1'], 'm1'),
      op('Add', ['m1', 'o1'], 'fg'),
      conv('input0', 'ws', 'bs', 'grad'),
      op('Abs', ['grad'], 'agrad'),
      {
        input: ['agrad', 'wsum', 'bsum'],
        output: ['gsum'],
        opType: 'Conv',
        attribute: [ints('kernel_shape', [1, 1])],
      },
      op('Mul', ['gsum', 'g2'], 'b1'),
      op('Add', ['b1', 'o2'], 'bd'),
      {
        input: ['fg', 'bd'],
        output: ['output0'],
        opType: 'Concat',
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
      },
    ],
    input: [info('input0', 1)],
    output: [info('output0', 2)],
  });
}

/** 3x3 correlation with zero padding (what ONNX Conv computes), in float64. */
function conv3(src: Float32Array, h: number, w: number, k: readonly number[]): Float64Array {
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) s += src[yy * w + xx]! * k[(dy + 1) * 3 + dx + 1]!;
        }
      out[y * w + x] = s;
    }
  return out;
}

const sig = (v: number): number => 1 / (1 + Math.exp(-v));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export type PackageFiles = Map<string, Uint8Array>;

/** The 0.5 foreground package: its files and the test image's disks. */
export function foregroundPackage05(): { files: PackageFiles; disks: Disk[] } {
  const { image, disks } = separatedNuclei(64, 3, 4);
  const { height: h, width: w } = image;
  const pre = zeroMeanUnitVariance(image, { perChannel: true, eps: 1e-6 });
  const m = conv3(pre.data, h, w, MEAN3);
  const out = Float32Array.from(m, (v) => sig(4 * v - 2));
  const model = foregroundOnnx();
  const input = writeNpy(image.data, [1, 1, h, w]);
  const output = writeNpy(out, [1, 1, h, w]);
  const rdf = {
    type: 'model',
    format_version: '0.5.3',
    name: 'Nuclei foreground (third-party test)',
    description: 'A 3x3 mean filter and a sigmoid: foreground probability of bright nuclei',
    authors: [{ name: 'Test Lab' }],
    cite: [{ text: 'test', doi: '10.0000/test' }],
    license: 'MIT',
    documentation: 'README.md',
    inputs: [
      {
        id: 'raw',
        axes: [
          { type: 'batch' },
          { type: 'channel', channel_names: ['dapi'] },
          { type: 'space', id: 'y', size: { min: 32, step: 16 } },
          { type: 'space', id: 'x', size: { min: 32, step: 16 } },
        ],
        test_tensor: { source: 'test_input.npy', sha256: sha(input) },
        data: { type: 'float32' },
        preprocessing: [{ id: 'zero_mean_unit_variance', kwargs: { axes: ['y', 'x'], eps: 1e-6 } }],
      },
    ],
    outputs: [
      {
        id: 'prob',
        axes: [
          { type: 'batch' },
          { type: 'channel', channel_names: ['nuclei_foreground'] },
          { type: 'space', id: 'y', size: { tensor_id: 'raw', axis_id: 'y' }, halo: 8 },
          { type: 'space', id: 'x', size: { tensor_id: 'raw', axis_id: 'x' }, halo: 8 },
        ],
        test_tensor: { source: 'test_output.npy', sha256: sha(output) },
        data: { type: 'float32' },
      },
    ],
    weights: { onnx: { source: 'fg.onnx', sha256: sha(model), opset_version: 13 } },
  };
  const files: PackageFiles = new Map([
    ['rdf.yaml', Buffer.from(stringify(rdf))],
    ['fg.onnx', model],
    ['test_input.npy', input],
    ['test_output.npy', output],
    ['README.md', Buffer.from('# test model\n')],
  ]);
  return { files, disks };
}

/** The 0.4 boundary package: its files and the test image's disks. */
export function boundaryPackage04(): { files: PackageFiles; disks: Disk[] } {
  const { image, disks } = separatedNuclei(64, 5, 4);
  const { height: h, width: w } = image;
  const pre = scaleRange(image, { minPercentile: 1, maxPercentile: 99.8, eps: 1e-6 });
  const m = conv3(pre.data, h, w, MEAN3);
  const gx = conv3(pre.data, h, w, SOBEL_X);
  const gy = conv3(pre.data, h, w, SOBEL_Y);
  const out = new Float32Array(2 * h * w);
  for (let i = 0; i < h * w; i++) {
    out[i] = sig(12 * m[i]! - 4);
    out[h * w + i] = sig(4 * (Math.abs(gx[i]!) + Math.abs(gy[i]!)) - 4);
  }
  const model = boundaryOnnx();
  const rdf = {
    format_version: '0.4.10',
    type: 'model',
    name: 'Nuclei boundaries 0.4 (third-party test)',
    description: 'Foreground and boundary logits from fixed filters; sigmoid post-processing',
    authors: [{ name: 'Test Lab' }],
    cite: [{ text: 'test', doi: '10.0000/test' }],
    license: 'MIT',
    documentation: 'README.md',
    timestamp: '2024-01-01T00:00:00',
    test_inputs: ['test_input.npy'],
    test_outputs: ['test_output.npy'],
    inputs: [
      {
        name: 'input0',
        axes: 'bcyx',
        data_type: 'float32',
        data_range: [-Infinity, Infinity],
        shape: { min: [1, 1, 16, 16], step: [0, 0, 16, 16] },
        preprocessing: [
          {
            name: 'scale_range',
            kwargs: { mode: 'per_sample', axes: 'xy', min_percentile: 1, max_percentile: 99.8 },
          },
        ],
      },
    ],
    outputs: [
      {
        name: 'output0',
        axes: 'bcyx',
        data_type: 'float32',
        data_range: [0, 1],
        shape: { reference_tensor: 'input0', scale: [1, 2, 1, 1], offset: [0, 0, 0, 0] },
        halo: [0, 0, 8, 8],
        postprocessing: [{ name: 'sigmoid' }],
      },
    ],
    weights: { onnx: { source: 'weights.onnx', sha256: sha(model), opset_version: 13 } },
  };
  const files: PackageFiles = new Map([
    ['rdf.yaml', Buffer.from(stringify(rdf))],
    ['weights.onnx', model],
    ['test_input.npy', writeNpy(image.data, [1, 1, h, w])],
    ['test_output.npy', writeNpy(out, [1, 2, h, w])],
    ['README.md', Buffer.from('# test model\n')],
  ]);
  return { files, disks };
}

/** Free-form rdf YAML as tests edit it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests reach into arbitrary YAML fields
export type LooseRdf = Record<string, any>;

/** A copy of `files` with its rdf.yaml changed by `edit` (for broken-package tests). */
export function withRdf(files: PackageFiles, edit: (rdf: LooseRdf) => void): PackageFiles {
  const copy = new Map(files);
  const rdf = parseYaml(Buffer.from(files.get('rdf.yaml')!).toString('utf8')) as LooseRdf;
  edit(rdf);
  copy.set('rdf.yaml', Buffer.from(stringify(rdf)));
  return copy;
}
