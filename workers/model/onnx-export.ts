/**
 * Exports a tfjs-layers `LayersModel` to an ONNX model (opset 13, IR version 7) for CPU serving in
 * onnxruntime-node.
 *
 * Contract of the exported graph:
 * - the graph input is NHWC, exactly as the tfjs model takes it: `[N, H, W, C]` float32 with N, H and W
 *   dynamic (`dim_param` N, H, W); one Transpose turns it into NCHW for the convolutions;
 * - one graph output per model output, also NHWC (`[N, H, W, C_k]`, one Transpose each), named after the
 *   tfjs output layer, in the order of `model.outputs`;
 * - BatchNormalization that directly follows a linear Conv2D (whose output feeds nothing else) is folded into
 *   that convolution's weights and bias (computed in float64); any other BatchNormalization is emitted as an
 *   ONNX BatchNormalization node.
 *
 * Supported layer set (anything else throws `OnnxExportError` naming the layer): InputLayer; Conv2D (stride 1,
 * dilation 1, channelsLast, `same` or `valid` padding, with or without bias, any supported activation);
 * BatchNormalization over the channel axis; Activation relu / sigmoid / softmax / linear; ReLU (optionally
 * capped by `maxValue`); MaxPooling2D (`valid` or `same`); UpSampling2D nearest with integer factors;
 * Concatenate and Add.
 */
import onnxProto from 'onnx-proto';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IAttribute = onnxProto.onnx.IAttributeProto;
type Layer = tfl.layers.Layer;
type SymbolicTensor = tfl.SymbolicTensor;

/** The model cannot be expressed with the supported layer set; the message names the layer and why. */
export class OnnxExportError extends Error {
  override readonly name = 'OnnxExportError';
}

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;

/** Maps an NHWC axis (negative counts from the end) to its NCHW position. */
function nchwAxis(axis: number, layerName: string): number {
  const a = axis < 0 ? axis + 4 : axis;
  const map = [0, 2, 3, 1];
  const out = map[a];
  if (out === undefined)
    throw new OnnxExportError(`layer '${layerName}': axis ${axis} is not valid for a 4-D tensor`);
  return out;
}

const attr = {
  ints(name: string, ints: number[]): IAttribute {
    return { name, type: onnx.AttributeProto.AttributeType.INTS, ints };
  },
  int(name: string, i: number): IAttribute {
    return { name, type: onnx.AttributeProto.AttributeType.INT, i };
  },
  float(name: string, f: number): IAttribute {
    return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f };
  },
  string(name: string, s: string): IAttribute {
    return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) };
  },
};

function floatTensor(name: string, dims: number[], values: Float32Array): ITensor {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(bytes) };
}

function weightValues(t: Tensor): Float32Array {
  const v = t.dataSync();
  if (!(v instanceof Float32Array)) throw new OnnxExportError(`weight of dtype ${t.dtype} is not float32`);
  return v;
}

/** The layers between graph inputs and outputs, each with the one call (node) that the model uses. */
interface Call {
  readonly layer: Layer;
  readonly inputs: SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
}

/** Topologically ordered calls that produce `model.outputs` (post-order DFS from the outputs). */
function orderedCalls(model: tfl.LayersModel): Call[] {
  const seen = new Map<string, Call>();
  const order: Call[] = [];
  const visit = (t: SymbolicTensor): void => {
    const layer = t.sourceLayer;
    const key = `${layer.name}#${t.nodeIndex}`;
    if (seen.has(key)) return;
    const node = layer.inboundNodes[t.nodeIndex];
    if (!node) throw new OnnxExportError(`layer '${layer.name}' has no call #${t.nodeIndex}`);
    const call: Call = { layer, inputs: node.inputTensors, outputs: node.outputTensors };
    seen.set(key, call);
    if (layer.getClassName() !== 'InputLayer') for (const input of node.inputTensors) visit(input);
    order.push(call);
  };
  for (const out of model.outputs) visit(out);
  return order;
}

/** Counts how many calls consume each symbolic tensor (by id), graph outputs counting as consumers. */
function consumerCounts(calls: Call[], outputs: SymbolicTensor[]): Map<number, number> {
  const counts = new Map<number, number>();
  const add = (t: SymbolicTensor): void => void counts.set(t.id, (counts.get(t.id) ?? 0) + 1);
  for (const c of calls) if (c.layer.getClassName() !== 'InputLayer') c.inputs.forEach(add);
  outputs.forEach(add);
  return counts;
}

interface Emitter {
  nodes: INode[];
  initializers: ITensor[];
  /** ONNX value name of a symbolic tensor (NCHW layout inside the graph). */
  valueOf(t: SymbolicTensor): string;
  fresh(prefix: string): string;
}

/** Appends the ONNX node(s) for a tfjs activation name; returns the output value name. */
function emitActivation(
  e: Emitter,
  activation: string,
  input: string,
  output: string,
  layerName: string,
): void {
  const op = { relu: 'Relu', sigmoid: 'Sigmoid', softmax: 'Softmax', linear: 'Identity' }[activation];
  if (!op) throw new OnnxExportError(`layer '${layerName}': activation '${activation}' is not supported`);
  const attributes = op === 'Softmax' ? [attr.int('axis', 1)] : [];
  e.nodes.push({
    opType: op,
    input: [input],
    output: [output],
    name: `${layerName}/${op}`,
    attribute: attributes,
  });
}

function activationName(config: Record<string, unknown>): string {
  const a = config['activation'];
  return typeof a === 'string' ? a : 'linear';
}

/** BatchNorm folding factors: y = x * scale + shift per channel. Computed in float64. */
function batchNormFactors(layer: Layer): { scale: Float64Array; shift: Float64Array; epsilon: number } {
  const cfg = layer.getConfig() as Record<string, unknown>;
  const axis = Number(cfg['axis'] ?? -1);
  if (axis !== -1 && axis !== 3) {
    throw new OnnxExportError(
      `layer '${layer.name}': BatchNormalization over axis ${axis}; only the channel axis (-1) is supported`,
    );
  }
  const epsilon = Number(cfg['epsilon'] ?? 1e-3);
  const w = layer.getWeights();
  let i = 0;
  const gamma = cfg['scale'] !== false ? weightValues(w[i++]!) : undefined;
  const beta = cfg['center'] !== false ? weightValues(w[i++]!) : undefined;
  const mean = weightValues(w[i++]!);
  const variance = weightValues(w[i++]!);
  const n = mean.length;
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    scale[k] = (gamma ? gamma[k]! : 1) / Math.sqrt(variance[k]! + epsilon);
    shift[k] = (beta ? beta[k]! : 0) - mean[k]! * scale[k]!;
  }
  return { scale, shift, epsilon };
}

/** SAME padding for stride 1, dilation 1, as TensorFlow pads (the extra pixel of an even kernel at the end). */
function samePads(kh: number, kw: number): number[] {
  return [
    Math.floor((kh - 1) / 2),
    Math.floor((kw - 1) / 2),
    Math.ceil((kh - 1) / 2),
    Math.ceil((kw - 1) / 2),
  ];
}

function emitConv(e: Emitter, call: Call, foldedBn: Layer | undefined, output: string): void {
  const { layer } = call;
  const cfg = layer.getConfig() as Record<string, unknown>;
  const name = layer.name;
  const strides = (cfg['strides'] as number[] | undefined) ?? [1, 1];
  const dilation = (cfg['dilationRate'] as number[] | number | undefined) ?? [1, 1];
  const dil = Array.isArray(dilation) ? dilation : [dilation, dilation];
  if (strides.some((s) => s !== 1) || dil.some((d) => d !== 1)) {
    throw new OnnxExportError(
      `layer '${name}': Conv2D strides ${JSON.stringify(strides)} / dilation ${JSON.stringify(dil)}; only 1 is supported`,
    );
  }
  if (cfg['dataFormat'] === 'channelsFirst')
    throw new OnnxExportError(`layer '${name}': channelsFirst is not supported`);
  const padding = cfg['padding'];
  if (padding !== 'same' && padding !== 'valid')
    throw new OnnxExportError(`layer '${name}': padding '${String(padding)}' is not supported`);
  const weights = layer.getWeights();
  const kernelT = weights[0]!;
  const [kh, kw, cin, cout] = kernelT.shape as [number, number, number, number];
  const kernel = weightValues(kernelT);
  const bias = cfg['useBias'] !== false && weights[1] ? weightValues(weights[1]) : new Float32Array(cout);
  // tfjs kernel [kh, kw, cin, cout] → ONNX [cout, cin, kh, kw], BatchNorm folded per output channel.
  const bn = foldedBn ? batchNormFactors(foldedBn) : undefined;
  const w = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let ci = 0; ci < cin; ci++)
        for (let co = 0; co < cout; co++) {
          const v = kernel[((y * kw + x) * cin + ci) * cout + co]!;
          w[((co * cin + ci) * kh + y) * kw + x] = bn ? v * bn.scale[co]! : v;
        }
  const b = new Float32Array(cout);
  for (let co = 0; co < cout; co++) b[co] = bn ? bias[co]! * bn.scale[co]! + bn.shift[co]! : bias[co]!;
  const wName = `${name}/W`;
  const bName = `${name}/B`;
  e.initializers.push(floatTensor(wName, [cout, cin, kh, kw], w), floatTensor(bName, [cout], b));
  const activation = activationName(cfg);
  const convOut = activation === 'linear' ? output : e.fresh(`${name}/conv`);
  e.nodes.push({
    opType: 'Conv',
    name: `${name}/Conv`,
    input: [e.valueOf(call.inputs[0]!), wName, bName],
    output: [convOut],
    attribute: [
      attr.ints('kernel_shape', [kh, kw]),
      attr.ints('strides', [1, 1]),
      attr.ints('dilations', [1, 1]),
      attr.ints('pads', padding === 'same' ? samePads(kh, kw) : [0, 0, 0, 0]),
    ],
  });
  if (activation !== 'linear') emitActivation(e, activation, convOut, output, name);
}

function emitBatchNorm(e: Emitter, call: Call, output: string): void {
  const { layer } = call;
  const { scale, shift, epsilon } = batchNormFactors(layer);
  // Emitted as BatchNormalization with mean 0, variance 1 - epsilon so that scale/shift are exactly the folded
  // float64 factors (rounded once to float32).
  const n = scale.length;
  const names = ['scale', 'B', 'mean', 'var'].map((s) => `${layer.name}/${s}`);
  const ones = new Float32Array(n).fill(1 - epsilon);
  e.initializers.push(
    floatTensor(names[0]!, [n], Float32Array.from(scale)),
    floatTensor(names[1]!, [n], Float32Array.from(shift)),
    floatTensor(names[2]!, [n], new Float32Array(n)),
    floatTensor(names[3]!, [n], ones),
  );
  e.nodes.push({
    opType: 'BatchNormalization',
    name: `${layer.name}/BatchNormalization`,
    input: [e.valueOf(call.inputs[0]!), ...names],
    output: [output],
    attribute: [attr.float('epsilon', epsilon)],
  });
}

function emitLayer(e: Emitter, call: Call, output: string): void {
  const { layer } = call;
  const cfg = layer.getConfig() as Record<string, unknown>;
  const name = layer.name;
  const inputs = call.inputs.map((t) => e.valueOf(t));
  switch (layer.getClassName()) {
    case 'BatchNormalization':
      return emitBatchNorm(e, call, output);
    case 'Activation':
      return emitActivation(e, activationName(cfg), inputs[0]!, output, name);
    case 'ReLU': {
      const maxValue = cfg['maxValue'];
      if (typeof maxValue === 'number') {
        const lo = `${name}/min`;
        const hi = `${name}/max`;
        e.initializers.push(
          floatTensor(lo, [], Float32Array.of(0)),
          floatTensor(hi, [], Float32Array.of(maxValue)),
        );
        e.nodes.push({ opType: 'Clip', name: `${name}/Clip`, input: [inputs[0]!, lo, hi], output: [output] });
        return;
      }
      return emitActivation(e, 'relu', inputs[0]!, output, name);
    }
    case 'MaxPooling2D': {
      const pool = (cfg['poolSize'] as number[] | undefined) ?? [2, 2];
      const strides = (cfg['strides'] as number[] | null | undefined) ?? pool;
      const padding = cfg['padding'] ?? 'valid';
      if (padding !== 'same' && padding !== 'valid')
        throw new OnnxExportError(`layer '${name}': padding '${String(padding)}' is not supported`);
      const attributes = [attr.ints('kernel_shape', pool), attr.ints('strides', strides)];
      if (padding === 'same') attributes.push(attr.string('auto_pad', 'SAME_UPPER'));
      e.nodes.push({
        opType: 'MaxPool',
        name: `${name}/MaxPool`,
        input: inputs,
        output: [output],
        attribute: attributes,
      });
      return;
    }
    case 'UpSampling2D': {
      const size = (cfg['size'] as number[] | undefined) ?? [2, 2];
      if (cfg['interpolation'] !== undefined && cfg['interpolation'] !== 'nearest') {
        throw new OnnxExportError(
          `layer '${name}': UpSampling2D interpolation '${String(cfg['interpolation'])}'; only 'nearest' is supported`,
        );
      }
      const scales = `${name}/scales`;
      e.initializers.push(floatTensor(scales, [4], Float32Array.of(1, 1, size[0]!, size[1]!)));
      e.nodes.push({
        opType: 'Resize',
        name: `${name}/Resize`,
        input: [inputs[0]!, '', scales],
        output: [output],
        attribute: [
          attr.string('mode', 'nearest'),
          attr.string('coordinate_transformation_mode', 'asymmetric'),
          attr.string('nearest_mode', 'floor'),
        ],
      });
      return;
    }
    case 'Concatenate':
      e.nodes.push({
        opType: 'Concat',
        name: `${name}/Concat`,
        input: inputs,
        output: [output],
        attribute: [attr.int('axis', nchwAxis(Number(cfg['axis'] ?? -1), name))],
      });
      return;
    case 'Add': {
      let acc = inputs[0]!;
      for (let k = 1; k < inputs.length; k++) {
        const out = k === inputs.length - 1 ? output : e.fresh(`${name}/add`);
        e.nodes.push({ opType: 'Add', name: `${name}/Add${k}`, input: [acc, inputs[k]!], output: [out] });
        acc = out;
      }
      if (inputs.length === 1)
        e.nodes.push({ opType: 'Identity', name: `${name}/Identity`, input: [acc], output: [output] });
      return;
    }
    default:
      throw new OnnxExportError(
        `layer '${name}' of class ${layer.getClassName()} is not supported by the ONNX exporter`,
      );
  }
}

export interface OnnxExportOptions {
  /** Written into the model's producer/doc fields. @default 'cellkiosk' */
  readonly producer?: string;
  readonly docString?: string;
}

/**
 * Converts `model` to ONNX and returns the serialized ModelProto bytes (write them to `model.onnx`).
 * Throws `OnnxExportError` for a layer outside the supported set, a shared layer, or more than one input.
 */
export function exportToOnnx(model: tfl.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  if (model.inputs.length !== 1)
    throw new OnnxExportError(`model has ${model.inputs.length} inputs; exactly 1 is supported`);
  const input = model.inputs[0]!;
  if (input.shape.length !== 4)
    throw new OnnxExportError(`model input has shape ${JSON.stringify(input.shape)}; expected [N, H, W, C]`);
  const channels = input.shape[3];
  if (typeof channels !== 'number') throw new OnnxExportError('model input has no fixed channel count');

  const calls = orderedCalls(model);
  const consumers = consumerCounts(calls, model.outputs);
  const names = new Map<number, string>();
  let counter = 0;
  const e: Emitter = {
    nodes: [],
    initializers: [],
    valueOf(t) {
      const n = names.get(t.id);
      if (n === undefined)
        throw new OnnxExportError(`internal: tensor '${t.name}' used before it was produced`);
      return n;
    },
    fresh: (prefix) => `${prefix}_${counter++}`,
  };

  e.nodes.push({
    opType: 'Transpose',
    name: 'input/to_nchw',
    input: ['input'],
    output: ['input_nchw'],
    attribute: [attr.ints('perm', [0, 3, 1, 2])],
  });
  const folded = new Set<Layer>();
  for (const call of calls) {
    const cls = call.layer.getClassName();
    if (call.outputs.length !== 1)
      throw new OnnxExportError(
        `layer '${call.layer.name}' has ${call.outputs.length} outputs; 1 is supported`,
      );
    const out = call.outputs[0]!;
    if (cls === 'InputLayer') {
      names.set(out.id, 'input_nchw');
      continue;
    }
    if (folded.has(call.layer)) {
      // BatchNorm already folded into the preceding Conv: it shares the conv's value name.
      names.set(out.id, e.valueOf(call.inputs[0]!));
      continue;
    }
    const valueName = e.fresh(call.layer.name);
    names.set(out.id, valueName);
    if (cls === 'Conv2D') {
      const next = foldableBatchNorm(call, calls, consumers);
      if (next) folded.add(next);
      emitConv(e, call, next, valueName);
    } else {
      emitLayer(e, call, valueName);
    }
  }

  const outputNames = model.outputs.map((t) => t.sourceLayer.name);
  model.outputs.forEach((t, k) => {
    e.nodes.push({
      opType: 'Transpose',
      name: `${outputNames[k]}/to_nhwc`,
      input: [e.valueOf(t)],
      output: [outputNames[k]!],
      attribute: [attr.ints('perm', [0, 2, 3, 1])],
    });
  });

  const dim = (d: number | string): onnxProto.onnx.TensorShapeProto.IDimension =>
    typeof d === 'number' ? { dimValue: d } : { dimParam: d };
  const valueInfo = (name: string, c: number | null): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: ['N', 'H', 'W', c ?? 'C'].map(dim) },
      },
    },
  });
  const graph: onnxProto.onnx.IGraphProto = {
    name: model.name,
    node: e.nodes,
    initializer: e.initializers,
    input: [valueInfo('input', channels)],
    output: model.outputs.map((t, k) => valueInfo(outputNames[k]!, (t.shape[3] as number | null) ?? null)),
  };
  const proto: onnxProto.onnx.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: options.producer ?? 'cellkiosk',
    docString: options.docString ?? 'Exported from a tfjs-layers model; input and outputs are NHWC float32.',
    graph,
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(proto)).finish();
}

/** The BatchNormalization call that can be folded into `conv`: sole consumer of a linear conv's output. */
function foldableBatchNorm(conv: Call, calls: Call[], consumers: Map<number, number>): Layer | undefined {
  const cfg = conv.layer.getConfig() as Record<string, unknown>;
  if (activationName(cfg) !== 'linear') return undefined;
  const out = conv.outputs[0]!;
  if (consumers.get(out.id) !== 1) return undefined;
  const next = calls.find(
    (c) => c.layer.getClassName() === 'BatchNormalization' && c.inputs[0]?.id === out.id,
  );
  if (!next) return undefined;
  const axis = Number((next.layer.getConfig() as Record<string, unknown>)['axis'] ?? -1);
  return axis === -1 || axis === 3 ? next.layer : undefined;
}
