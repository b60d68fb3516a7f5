/**
 * Static int8 quantization of the float ONNX model that ./onnx-export.ts writes, in onnxruntime's QDQ format
 * (QuantizeLinear → DequantizeLinear pairs that onnxruntime's CPU provider fuses into int8 kernels).
 *
 * What is quantized, and why so (onnxruntime's QDQ selectors, core/optimizer/qdq_transformer/selectors_actions/
 * qdq_selectors.cc, fuse a node only when EVERY input comes from a DequantizeLinear and every output goes to a
 * QuantizeLinear):
 * - a Conv whose only consumer is a Relu becomes QLinearConv: its input through Q/DQ (uint8, per tensor), its
 *   weights int8, symmetric, per output channel (DequantizeLinear axis 0), its bias int32 with scale
 *   input_scale · weight_scale[c] and zero point 0 (a float bias would leave the Conv unfused), and a Q/DQ on
 *   the Relu's output with zero point 0 — onnxruntime then drops the Relu as redundant (a uint8 Q with zero
 *   point 0 already clips at 0);
 * - MaxPool and nearest Resize get a Q/DQ on their output with their input's scale and zero point, so that
 *   onnxruntime drops the pair and runs them on uint8 directly;
 * - Concat gets a Q/DQ with its own calibrated range (QLinearConcat requantizes each input);
 * - the last Conv of each head (the one feeding the Identity/Softmax before a graph output) stays float on the
 *   dequantized input: it is a small 1x1 conv and its output is the map the post-processing thresholds.
 * Each consumer of a quantized tensor gets its own DequantizeLinear (one node group per consumer).
 *
 * Activation ranges come from calibration: `calibrationModel` adds every tensor that needs a range as an extra
 * graph output; `CalibrationRunner` is a `ModelRunner` over that model that records a histogram of each (so the
 * calibration data is exactly what the network sees in the real pipeline: tiles of images normalized, rescaled
 * and padded by workers/pipeline); `rangesFrom` turns them into [lo, hi] by min/max or by a percentile.
 */
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { headMapsOf, identifyHeads, RunnerError, type HeadMaps, type ModelRunner } from './runners.js';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
const DT = onnx.TensorProto.DataType;

/** The float model is not the shape this quantizer handles; the message says what. */
export class QuantizeError extends Error {
  override readonly name = 'QuantizeError';
}

/** The tensors that get a Q/DQ pair and the convolutions that run in int8. */
export interface QuantPlan {
  /** Conv node names that become QLinearConv. */
  readonly convs: readonly string[];
  /** Tensors quantized with their own calibrated range, in graph order. */
  readonly calibrated: readonly string[];
  /** Tensors quantized with the parameters of another one (MaxPool / Resize output → its input). */
  readonly inherited: ReadonlyMap<string, string>;
}

function decode(model: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(model);
}

/** Which convolutions run in int8 and which tensors need a Q/DQ pair (see the file comment). */
export function planQuantization(model: Uint8Array | onnxProto.onnx.IModelProto): QuantPlan {
  const proto = model instanceof Uint8Array ? decode(model) : model;
  const nodes = proto.graph?.node ?? [];
  const graphOutputs = new Set((proto.graph?.output ?? []).map((o) => o.name ?? ''));
  const consumers = new Map<string, INode[]>();
  for (const n of nodes)
    for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const convs: string[] = [];
  const quantized = new Set<string>();
  const calibrated: string[] = [];
  const inherited = new Map<string, string>();
  const mark = (t: string): void => {
    if (graphOutputs.has(t))
      throw new QuantizeError(`tensor '${t}' is a graph output; it cannot be quantized`);
    if (!quantized.has(t)) {
      quantized.add(t);
      calibrated.push(t);
    }
  };
  for (const n of nodes) {
    const out = n.output?.[0] ?? '';
    if (n.opType === 'Conv') {
      const after = consumers.get(out) ?? [];
      const relu = after.length === 1 && after[0]!.opType === 'Relu' ? after[0]! : undefined;
      const reluOut = relu?.output?.[0] ?? '';
      if (relu && !graphOutputs.has(out) && !graphOutputs.has(reluOut)) {
        convs.push(n.name ?? '');
        mark(n.input![0]!);
        mark(reluOut);
      }
    } else if ((n.opType === 'MaxPool' || n.opType === 'Resize') && quantized.has(n.input![0]!)) {
      quantized.add(out);
      inherited.set(out, n.input![0]!);
    } else if (n.opType === 'Concat' && (n.input ?? []).every((i) => quantized.has(i))) {
      mark(out);
    }
  }
  // A tensor first seen as a Conv input may be produced later in `nodes` order only if the graph is not
  // topologically sorted; the exporter's is. Keep calibrated in graph order for readable cards.
  return { convs, calibrated, inherited };
}

/** The float model with every calibrated tensor added as an extra graph output (after the original ones). */
export function calibrationModel(model: Uint8Array, plan: QuantPlan = planQuantization(model)): Uint8Array {
  const proto = decode(model);
  const graph = proto.graph!;
  for (const t of plan.calibrated)
    (graph.output ??= []).push(
      onnx.ValueInfoProto.create({ name: t, type: { tensorType: { elemType: DT.FLOAT } } }),
    );
  return onnx.ModelProto.encode(proto).finish();
}

/**
 * A histogram of one tensor's values over [-negRange, posRange] (two halves of `bins` bins each); a range
 * doubles (merging bins pairwise) whenever a value falls outside it, so one pass suffices.
 */
class Histogram {
  readonly pos: Float64Array;
  readonly neg: Float64Array;
  posRange = 0;
  negRange = 0;
  min = Infinity;
  max = -Infinity;
  count = 0;

  constructor(readonly bins: number) {
    this.pos = new Float64Array(bins);
    this.neg = new Float64Array(bins);
  }

  private static grow(h: Float64Array, range: number, need: number): number {
    let r = range;
    if (r === 0) return need;
    while (r < need) {
      const n = h.length;
      for (let k = 0; k < n / 2; k++) h[k] = h[2 * k]! + h[2 * k + 1]!;
      h.fill(0, n / 2);
      r *= 2;
    }
    return r;
  }

  add(data: Float32Array): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi))
      throw new QuantizeError('calibration saw a non-finite activation');
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    this.count += data.length;
    if (hi > 0) this.posRange = Histogram.grow(this.pos, this.posRange, hi);
    if (lo < 0) this.negRange = Histogram.grow(this.neg, this.negRange, -lo);
    const b = this.bins;
    const pk = this.posRange > 0 ? b / this.posRange : 0;
    const nk = this.negRange > 0 ? b / this.negRange : 0;
    const { pos, neg } = this;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v > 0) pos[Math.min(b - 1, Math.floor(v * pk))]++;
      else if (v < 0) neg[Math.min(b - 1, Math.floor(-v * nk))]++;
    }
  }

  /** The value below which all but a fraction `tail` of the samples on that side of 0 lie (upper bin edge). */
  bound(side: 'pos' | 'neg', tail: number): number {
    const h = side === 'pos' ? this.pos : this.neg;
    const range = side === 'pos' ? this.posRange : this.negRange;
    const extreme = side === 'pos' ? Math.max(0, this.max) : Math.max(0, -this.min);
    if (range === 0) return 0;
    const allowed = tail * this.count;
    let above = 0;
    for (let k = h.length - 1; k >= 0; k--) {
      above += h[k]!;
      if (above > allowed) return Math.min(extreme, ((k + 1) * range) / h.length);
    }
    return 0;
  }
}

export type CalibrationMethod =
  { readonly kind: 'minmax' } | { readonly kind: 'percentile'; readonly percentile: number };

export interface TensorRange {
  readonly lo: number;
  readonly hi: number;
}

/**
 * A `ModelRunner` over `calibrationModel(...)` bytes: answers predict like OnnxRunner (the first three outputs
 * are the heads) and records a histogram of every extra output. Use it wherever a runner goes
 * (`segmentImageDetailed`) to calibrate on exactly what the pipeline feeds the network.
 */
export class CalibrationRunner implements ModelRunner {
  readonly runtime = 'onnxruntime-node/cpu (calibration)';
  readonly histograms = new Map<string, Histogram>();
  tiles = 0;

  private constructor(
    readonly name: string,
    private readonly session: ort.InferenceSession,
    private readonly heads: ReturnType<typeof identifyHeads>,
    private readonly headNames: readonly string[],
    private readonly channels: number,
    private readonly tracked: readonly string[],
  ) {}

  static async create(
    calibrationBytes: Uint8Array,
    plan: QuantPlan,
    opts: { threads?: number; name?: string; bins?: number } = {},
  ): Promise<CalibrationRunner> {
    const session = await ort.InferenceSession.create(calibrationBytes, {
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
    });
    const headNames = session.outputNames.slice(0, session.outputNames.length - plan.calibrated.length);
    const outChannels = session.outputMetadata
      .slice(0, headNames.length)
      .map((m) => (m.isTensor && typeof m.shape[3] === 'number' ? m.shape[3] : 0));
    const meta = session.inputMetadata[0];
    const channels = meta && meta.isTensor ? meta.shape[3] : undefined;
    if (typeof channels !== 'number') throw new QuantizeError('calibration model input has no channel count');
    const r = new CalibrationRunner(
      opts.name ?? 'calibration',
      session,
      identifyHeads(headNames, outChannels),
      headNames,
      channels,
      plan.calibrated,
    );
    for (const t of plan.calibrated) r.histograms.set(t, new Histogram(opts.bins ?? 4096));
    return r;
  }

  async predict(batch: Float32Array, n: number, h: number, w: number, c: number): Promise<HeadMaps> {
    if (c !== this.channels || batch.length !== n * h * w * c)
      throw new RunnerError(
        'bad-input',
        `calibration predict: batch does not match [${n}, ${h}, ${w}, ${c}]`,
      );
    const result = await this.session.run({
      [this.session.inputNames[0]!]: new ort.Tensor('float32', batch, [n, h, w, c]),
    });
    for (const t of this.tracked) this.histograms.get(t)!.add(result[t]!.data as Float32Array);
    this.tiles += n;
    return headMapsOf(result, this.headNames, this.heads);
  }

  /** [lo, hi] per calibrated tensor by `method`; always contains 0 (so 0 is exact in uint8). */
  ranges(method: CalibrationMethod): Map<string, TensorRange> {
    const out = new Map<string, TensorRange>();
    for (const [name, h] of this.histograms) {
      if (h.count === 0) throw new QuantizeError(`tensor '${name}' was never seen during calibration`);
      const lo = method.kind === 'minmax' ? Math.min(0, h.min) : -h.bound('neg', 1 - method.percentile / 100);
      const hi = method.kind === 'minmax' ? Math.max(0, h.max) : h.bound('pos', 1 - method.percentile / 100);
      out.set(name, { lo: Math.min(0, lo), hi: Math.max(0, hi) });
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** uint8 affine parameters for [lo, hi] (lo ≤ 0 ≤ hi): scale and zero point, 0 exactly representable. */
export function uint8Params(r: TensorRange): { scale: number; zeroPoint: number } {
  const span = r.hi - r.lo;
  if (!(span > 0)) return { scale: 1, zeroPoint: 0 };
  const scale = span / 255;
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-r.lo / scale)));
  return { scale: Math.fround(scale), zeroPoint };
}

export interface QuantizeOptions {
  /**
   * Weight range: 127 uses [-127, 127]; 63 uses 7 bits ([-63, 63], onnxruntime's `reduce_range`), which
   * keeps the AVX2 u8×s8 kernel (vpmaddubsw, int16 pair sums) clear of saturation on CPUs without VNNI.
   * @default 127
   */
  readonly weightMax?: 127 | 63;
}

function floatsOf(t: ITensor): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new QuantizeError(`initializer '${t.name}' is not float32`);
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function raw(values: Int8Array | Uint8Array | Int32Array | Float32Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

/**
 * Writes the QDQ model: `ranges` holds [lo, hi] for every `plan.calibrated` tensor. Throws QuantizeError when
 * a range is missing or a quantized Conv's weights are not a float initializer.
 */
export function quantizeQdq(
  model: Uint8Array,
  ranges: ReadonlyMap<string, TensorRange>,
  opts: QuantizeOptions = {},
  plan: QuantPlan = planQuantization(model),
): Uint8Array {
  const proto = decode(model);
  const graph = proto.graph!;
  const weightMax = opts.weightMax ?? 127;
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  for (const t of plan.calibrated) {
    const r = ranges.get(t);
    if (!r) throw new QuantizeError(`no calibrated range for tensor '${t}'`);
    params.set(t, uint8Params(r));
  }
  for (const [t, from] of plan.inherited) params.set(t, params.get(from)!);

  const added: ITensor[] = [];
  const scalar = (name: string, dataType: number, bytes: Uint8Array): string => {
    added.push({ name, dims: [], dataType, rawData: bytes });
    return name;
  };
  const qNodes = new Map<string, INode>(); // tensor → its QuantizeLinear
  const qParamNames = new Map<string, [string, string]>();
  const qpOf = (t: string): [string, string] => {
    let names = qParamNames.get(t);
    if (!names) {
      const p = params.get(t)!;
      names = [
        scalar(`${t}/q_scale`, DT.FLOAT, raw(Float32Array.of(p.scale))),
        scalar(`${t}/q_zero`, DT.UINT8, Uint8Array.of(p.zeroPoint)),
      ];
      qParamNames.set(t, names);
    }
    return names;
  };
  let dqCount = 0;
  const out: INode[] = [];
  const convSet = new Set(plan.convs);
  for (const node of graph.node ?? []) {
    // Inputs: each quantized tensor reaches this consumer through its own DequantizeLinear.
    const inputs = (node.input ?? []).map((i) => {
      if (!i || !params.has(i)) return i;
      const [s, z] = qpOf(i);
      const dq = `${i}/dq${dqCount++}`;
      out.push({
        opType: 'DequantizeLinear',
        name: `${dq}/DequantizeLinear`,
        input: [`${i}/q`, s, z],
        output: [dq],
      });
      return dq;
    });
    if (node.opType === 'Conv' && convSet.has(node.name ?? '')) {
      const [x, wName, bName] = node.input!;
      const w = inits.get(wName ?? '');
      if (!w) throw new QuantizeError(`Conv '${node.name}': weights '${wName}' are not an initializer`);
      const wv = floatsOf(w);
      const dims = (w.dims ?? []).map(Number);
      const cout = dims[0]!;
      const per = wv.length / cout;
      const wq = new Int8Array(wv.length);
      const ws = new Float32Array(cout);
      for (let c = 0; c < cout; c++) {
        let m = 0;
        for (let k = 0; k < per; k++) m = Math.max(m, Math.abs(wv[c * per + k]!));
        const s = m > 0 ? Math.fround(m / weightMax) : 1;
        ws[c] = s;
        for (let k = 0; k < per; k++)
          wq[c * per + k] = Math.max(-weightMax, Math.min(weightMax, Math.round(wv[c * per + k]! / s)));
      }
      const base = node.name ?? wName;
      added.push(
        { name: `${wName}/int8`, dims, dataType: DT.INT8, rawData: raw(wq) },
        { name: `${wName}/scale`, dims: [cout], dataType: DT.FLOAT, rawData: raw(ws) },
        { name: `${wName}/zero`, dims: [cout], dataType: DT.INT8, rawData: new Uint8Array(cout) },
      );
      out.push({
        opType: 'DequantizeLinear',
        name: `${base}/W/DequantizeLinear`,
        input: [`${wName}/int8`, `${wName}/scale`, `${wName}/zero`],
        output: [`${wName}/dq`],
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
      });
      const newInputs = [inputs[0]!, `${wName}/dq`];
      if (bName) {
        const b = inits.get(bName);
        if (!b) throw new QuantizeError(`Conv '${node.name}': bias '${bName}' is not an initializer`);
        const bv = floatsOf(b);
        const xs = params.get(x!)!.scale;
        const bq = new Int32Array(cout);
        const bs = new Float32Array(cout);
        for (let c = 0; c < cout; c++) {
          bs[c] = Math.fround(xs * ws[c]!);
          bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(bv[c]! / bs[c]!)));
        }
        added.push(
          { name: `${bName}/int32`, dims: [cout], dataType: DT.INT32, rawData: raw(bq) },
          { name: `${bName}/scale`, dims: [cout], dataType: DT.FLOAT, rawData: raw(bs) },
          { name: `${bName}/zero`, dims: [cout], dataType: DT.INT32, rawData: new Uint8Array(4 * cout) },
        );
        out.push({
          opType: 'DequantizeLinear',
          name: `${base}/B/DequantizeLinear`,
          input: [`${bName}/int32`, `${bName}/scale`, `${bName}/zero`],
          output: [`${bName}/dq`],
          attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
        });
        newInputs.push(`${bName}/dq`);
      }
      out.push({ ...node, input: newInputs });
      inits.delete(wName!);
      if (bName) inits.delete(bName);
    } else {
      out.push({ ...node, input: inputs });
    }
    // Outputs: a quantized tensor gets its QuantizeLinear right after its producer.
    for (const o of node.output ?? []) {
      if (!params.has(o)) continue;
      const [s, z] = qpOf(o);
      const q: INode = {
        opType: 'QuantizeLinear',
        name: `${o}/QuantizeLinear`,
        input: [o, s, z],
        output: [`${o}/q`],
      };
      qNodes.set(o, q);
      out.push(q);
    }
  }
  // The graph input feeds no quantized tensor directly in the exporter's graphs (a Transpose comes first).
  for (const t of params.keys())
    if (!qNodes.has(t)) throw new QuantizeError(`quantized tensor '${t}' has no producing node`);
  graph.node = out as onnxProto.onnx.NodeProto[];
  graph.initializer = [...inits.values(), ...added] as onnxProto.onnx.TensorProto[];
  proto.docString =
    `${proto.docString ?? ''} Static int8 QDQ (uint8 activations, int8 per-channel weights).`.trim();
  return onnx.ModelProto.encode(proto).finish();
}
