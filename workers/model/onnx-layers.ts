/**
 * The ONNX node(s) each supported tfjs layer becomes: Conv2D (with a following BatchNormalization folded in),
 * BatchNormalization, activations, ReLU, MaxPooling2D, UpSampling2D, Concatenate and Add. Called by
 * exportToOnnx (onnx-export.ts) for each layer in graph order.
 */
import {
  attr,
  floatTensor,
  nchwAxis,
  OnnxExportError,
  weightValues,
  type Call,
  type Emitter,
  type Layer,
} from './onnx-builders.js';

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

export function activationName(config: Record<string, unknown>): string {
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

export function emitConv(e: Emitter, call: Call, foldedBn: Layer | undefined, output: string): void {
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

export function emitLayer(e: Emitter, call: Call, output: string): void {
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
