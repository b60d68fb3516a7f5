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
 *
 * Where the parts are: this module walks the model's graph and writes the ModelProto; onnx-layers.ts emits
 * each layer's nodes; onnx-builders.ts holds the error, the attribute and tensor builders they share.
 */
import onnxProto from 'onnx-proto';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  attr,
  OnnxExportError,
  type Call,
  type Emitter,
  type Layer,
  type SymbolicTensor,
} from './onnx-builders.js';
import { activationName, emitConv, emitLayer } from './onnx-layers.js';

export { OnnxExportError } from './onnx-builders.js';

const { onnx } = onnxProto;

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;

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
