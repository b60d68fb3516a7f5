/**
 * A third-party whole-cell bioimage.io package built from scratch to the spec (format 0.5.3), for tests and
 * the whole-cell bench: its ONNX graph predicts the cells' foreground from the membrane/cytoplasm channel
 * of workers/image/synthetic-cells.ts images (bright inside cells, dark outside), pixel by pixel:
 * `prob = sigmoid(GAIN · (x − T))` after the declared `scale_range` (1 / 99.8 %, per sample) — optionally
 * after a `dilate`-px max filter (MaxPool), a model whose foreground reaches `dilate` px beyond the cells
 * (so tests can tell cells bounded by the model from cells bounded by the classical Otsu estimate).
 * `cellBoundaryPackage`: two input channels [nuclear, membrane] and two outputs, foreground (from the
 * membrane channel only, so a swapped channel order shows) and boundaries `sigmoid(GAIN · (x − B))` (the
 * bright cell borders). The test outputs are computed here in plain JavaScript, so the import's test run
 * checks the graph.
 */
import { createHash } from 'node:crypto';
import { zipSync } from 'fflate';
import onnxProto from 'onnx-proto';
import { stringify } from 'yaml';
import { writeNpy } from '../../bioimageio/npy.js';
import { scaleRange } from '../../image/bioimage-ops.js';
import { syntheticCells } from '../../image/synthetic-cells.js';
import { info } from '../../bioimageio/testing/third-party.js';

const { onnx } = onnxProto;
const F = onnx.TensorProto.DataType.FLOAT;

/** Logit gain and threshold (in scale_range units: background ≈ 0–0.09, cytoplasm ≈ 0.27–0.36, membrane ≈ 1). */
export const GAIN = 30;
export const T = 0.18;
/** Boundary threshold (cell borders ≈ 1, cytoplasm ≈ 0.3). */
export const B = 0.6;

const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });

/** The graph: membrane [N,1,H,W] → cells [N,1,H,W] = sigmoid(GAIN·(maxpool_{2d+1}(x) − T)). */
export function cellForegroundOnnx(dilate = 0): Uint8Array {
  const k = 2 * dilate + 1;
  const pool = dilate
    ? [
        {
          input: ['membrane'],
          output: ['m'],
          opType: 'MaxPool',
          attribute: [ints('kernel_shape', [k, k]), ints('pads', [dilate, dilate, dilate, dilate])],
        },
      ]
    : [];
  const src = dilate ? 'm' : 'membrane';
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'whole-cell-test',
      graph: {
        name: 'cells',
        initializer: [
          { name: 't', dims: [], dataType: F, floatData: [-T] },
          { name: 'g', dims: [], dataType: F, floatData: [GAIN] },
        ],
        node: [
          ...pool,
          { input: [src, 't'], output: ['d'], opType: 'Add' },
          { input: ['d', 'g'], output: ['z'], opType: 'Mul' },
          { input: ['z'], output: ['cells'], opType: 'Sigmoid' },
        ],
        input: [info('membrane', 1)],
        output: [info('cells', 1)],
      },
    }),
  ).finish();
}

/** Max over the (2d+1)² window clipped to the image (what MaxPool with pads d computes). */
function maxFilter(src: Float32Array, h: number, w: number, d: number): Float32Array {
  if (d === 0) return src;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let m = -Infinity;
      for (let yy = Math.max(0, y - d); yy <= Math.min(h - 1, y + d); yy++)
        for (let xx = Math.max(0, x - d); xx <= Math.min(w - 1, x + d); xx++)
          m = Math.max(m, src[yy * w + xx]!);
      out[y * w + x] = m;
    }
  return out;
}

/** What the model predicts for a raw membrane channel [H, W]: its foreground probability, computed here. */
export function expectedCellForeground(raw: Float32Array, h: number, w: number, dilate = 0): Float32Array {
  const pre = scaleRange(
    { data: raw, height: h, width: w, channels: 1 },
    { minPercentile: 1, maxPercentile: 99.8, eps: 1e-6 },
  );
  const m = maxFilter(pre.data, h, w, dilate);
  return Float32Array.from(m, (v) => 1 / (1 + Math.exp(-(Math.fround(v - T) * GAIN))));
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** What differs between the test packages: the rest of the rdf (0.5.3, scale_range 1-99.8 %, float32) is common. */
interface CellPackageParts {
  readonly name: string;
  readonly description: string;
  /** The input tensor's id and its channels, in order. */
  readonly input: { readonly id: string; readonly channels: readonly string[]; readonly npy: Uint8Array };
  /** The output's channels and its halo (px). */
  readonly output: { readonly channels: readonly string[]; readonly halo: number; readonly npy: Uint8Array };
  readonly onnx: { readonly file: string; readonly bytes: Uint8Array };
  readonly readme: string;
}

/** A bioimage.io 0.5 package zip around a cell model, its test input and its expected output. */
function cellPackageZip(p: CellPackageParts): Uint8Array {
  const space = (id: string, extra: object) => ({ type: 'space', id, ...extra });
  const rdf = {
    type: 'model',
    format_version: '0.5.3',
    name: p.name,
    description: p.description,
    authors: [{ name: 'Test Lab' }],
    cite: [{ text: 'test', doi: '10.0000/test' }],
    license: 'MIT',
    documentation: 'README.md',
    inputs: [
      {
        id: p.input.id,
        axes: [
          { type: 'batch' },
          { type: 'channel', channel_names: p.input.channels },
          space('y', { size: { min: 32, step: 16 } }),
          space('x', { size: { min: 32, step: 16 } }),
        ],
        test_tensor: { source: 'test_input.npy', sha256: sha(p.input.npy) },
        data: { type: 'float32' },
        preprocessing: [
          {
            id: 'scale_range',
            kwargs: { axes: ['y', 'x'], min_percentile: 1, max_percentile: 99.8, eps: 1e-6 },
          },
        ],
      },
    ],
    outputs: [
      {
        id: 'cells',
        axes: [
          { type: 'batch' },
          { type: 'channel', channel_names: p.output.channels },
          space('y', { size: { tensor_id: p.input.id, axis_id: 'y' }, halo: p.output.halo }),
          space('x', { size: { tensor_id: p.input.id, axis_id: 'x' }, halo: p.output.halo }),
        ],
        test_tensor: { source: 'test_output.npy', sha256: sha(p.output.npy) },
        data: { type: 'float32' },
      },
    ],
    weights: { onnx: { source: p.onnx.file, sha256: sha(p.onnx.bytes), opset_version: 13 } },
  };
  return zipSync({
    'rdf.yaml': Buffer.from(stringify(rdf)),
    [p.onnx.file]: p.onnx.bytes,
    'test_input.npy': p.input.npy,
    'test_output.npy': p.output.npy,
    'README.md': Buffer.from(p.readme),
  });
}

/** The package as a zip (what `kiosk models import` and POST /v1/models/import take). */
export function cellForegroundPackage(dilate = 0): Uint8Array {
  const s = syntheticCells(64, 64, { count: 4, minR: 10, maxR: 14, seed: 11 });
  const h = 64;
  const w = 64;
  const raw = Float32Array.from(s.membrane.data, (v) => v * 1000);
  const out = expectedCellForeground(raw, h, w, dilate);
  const model = cellForegroundOnnx(dilate);
  return cellPackageZip({
    name: `Cell foreground${dilate ? ` dilated ${dilate}` : ''} (third-party test)`,
    description:
      'Whole-cell foreground probability from a cytoplasm/membrane channel: a sigmoid of the scaled intensity',
    input: { id: 'membrane', channels: ['membrane'], npy: writeNpy(raw, [1, 1, h, w]) },
    output: { channels: ['cell_foreground'], halo: Math.max(4, dilate), npy: writeNpy(out, [1, 1, h, w]) },
    onnx: { file: 'cells.onnx', bytes: model },
    readme: '# whole-cell test model\n',
  });
}

/**
 * What the two-channel model predicts for a raw [H, W, 2] pair (nuclear, membrane): foreground and
 * boundary probabilities [H, W], computed here.
 */
export function expectedCellBoundary(
  pair: Float32Array,
  h: number,
  w: number,
): { foreground: Float32Array; boundaries: Float32Array } {
  const pre = scaleRange(
    { data: pair, height: h, width: w, channels: 2 },
    { minPercentile: 1, maxPercentile: 99.8, eps: 1e-6, perChannel: true },
  ).data;
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const foreground = new Float32Array(h * w);
  const boundaries = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) {
    const m = pre[2 * i + 1]!;
    foreground[i] = sig(Math.fround(Math.fround(GAIN * m) + -GAIN * T));
    boundaries[i] = sig(Math.fround(Math.fround(GAIN * m) + -GAIN * B));
  }
  return { foreground, boundaries };
}

/** The graph: pair [N,2,H,W] → cells [N,2,H,W] = sigmoid(1x1 conv): channel 0 foreground, 1 boundaries. */
function cellBoundaryOnnx(): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'whole-cell-test',
      graph: {
        name: 'cells2',
        initializer: [
          { name: 'w', dims: [2, 2, 1, 1], dataType: F, floatData: [0, GAIN, 0, GAIN] },
          { name: 'b', dims: [2], dataType: F, floatData: [-GAIN * T, -GAIN * B] },
        ],
        node: [
          {
            input: ['pair', 'w', 'b'],
            output: ['z'],
            opType: 'Conv',
            attribute: [ints('kernel_shape', [1, 1])],
          },
          { input: ['z'], output: ['cells'], opType: 'Sigmoid' },
        ],
        input: [info('pair', 2)],
        output: [info('cells', 2)],
      },
    }),
  ).finish();
}

/** The two-channel foreground + boundary package (format 0.5.3) as a zip. */
export function cellBoundaryPackage(): Uint8Array {
  const s = syntheticCells(64, 64, { count: 4, minR: 10, maxR: 14, seed: 12 });
  const [h, w] = [64, 64];
  const pair = new Float32Array(h * w * 2);
  for (let i = 0; i < h * w; i++) {
    pair[2 * i] = s.nuclear.data[i]! * 500;
    pair[2 * i + 1] = s.membrane.data[i]! * 1000;
  }
  const { foreground, boundaries } = expectedCellBoundary(pair, h, w);
  const planar = new Float32Array(2 * h * w); // bcyx
  planar.set(pair.filter((_, k) => k % 2 === 0));
  planar.set(
    pair.filter((_, k) => k % 2 === 1),
    h * w,
  );
  const out = new Float32Array(2 * h * w);
  out.set(foreground);
  out.set(boundaries, h * w);
  const model = cellBoundaryOnnx();
  return cellPackageZip({
    name: 'Cell foreground and boundaries (third-party test)',
    description: 'Whole-cell foreground and boundary probabilities from nuclear + membrane channels',
    input: { id: 'pair', channels: ['nuclear', 'membrane'], npy: writeNpy(planar, [1, 2, h, w]) },
    output: { channels: ['cell_foreground', 'cell_boundary'], halo: 4, npy: writeNpy(out, [1, 2, h, w]) },
    onnx: { file: 'cells2.onnx', bytes: model },
    readme: '# whole-cell test model, two channels\n',
  });
}
