/**
 * What the ONNX exporter's parts share (onnx-export.ts walks the model, onnx-layers.ts emits each layer):
 * the export error, ONNX attribute and tensor builders, the model's calls and the emitter they write to.
 */
import onnxProto from 'onnx-proto';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IAttribute = onnxProto.onnx.IAttributeProto;
export type Layer = tfl.layers.Layer;
export type SymbolicTensor = tfl.SymbolicTensor;

/** The model cannot be expressed with the supported layer set; the message names the layer and why. */
export class OnnxExportError extends Error {
  override readonly name = 'OnnxExportError';
}

/** Maps an NHWC axis (negative counts from the end) to its NCHW position. */
export function nchwAxis(axis: number, layerName: string): number {
  const a = axis < 0 ? axis + 4 : axis;
  const map = [0, 2, 3, 1];
  const out = map[a];
  if (out === undefined)
    throw new OnnxExportError(`layer '${layerName}': axis ${axis} is not valid for a 4-D tensor`);
  return out;
}

export const attr = {
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

export function floatTensor(name: string, dims: number[], values: Float32Array): ITensor {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(bytes) };
}

export function weightValues(t: Tensor): Float32Array {
  const v = t.dataSync();
  if (!(v instanceof Float32Array)) throw new OnnxExportError(`weight of dtype ${t.dtype} is not float32`);
  return v;
}

/** The layers between graph inputs and outputs, each with the one call (node) that the model uses. */
export interface Call {
  readonly layer: Layer;
  readonly inputs: SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
}

export interface Emitter {
  nodes: INode[];
  initializers: ITensor[];
  /** ONNX value name of a symbolic tensor (NCHW layout inside the graph). */
  valueOf(t: SymbolicTensor): string;
  fresh(prefix: string): string;
}
