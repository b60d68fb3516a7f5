import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNetwork } from './network.js';
import { exportToOnnx } from './onnx-export.js';
import {
  calibrationModel,
  CalibrationRunner,
  planQuantization,
  quantizeQdq,
  QuantizeError,
  uint8Params,
} from './quantize.js';
import { initTfjs } from './runtime.js';

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;

let float: Uint8Array;
let qdq: Uint8Array;
let plan: ReturnType<typeof planQuantization>;
let calib: CalibrationRunner;
let tmp: string;
const SIZE = 32;

/** Smooth blobs in [0, 1], like a normalized fluorescence tile. */
function tile(seed: number): Float32Array {
  return Float32Array.from({ length: SIZE * SIZE }, (_, i) => {
    const y = Math.floor(i / SIZE);
    const x = i % SIZE;
    return 0.5 + 0.5 * Math.sin((x + seed) * 0.4) * Math.cos((y - seed) * 0.3);
  });
}

beforeAll(async () => {
  await initTfjs({ prefer: 'wasm' });
  // Small U-Net with the served architecture (BN folded, Relu, MaxPool, Resize, Concat, three heads).
  const model = buildNetwork({ baseFilters: 4, depth: 2, maxFilters: 16 });
  float = exportToOnnx(model);
  model.dispose();
  plan = planQuantization(float);
  calib = await CalibrationRunner.create(calibrationModel(float, plan), plan);
  for (let s = 0; s < 3; s++) await calib.predict(tile(s), 1, SIZE, SIZE, 1);
  qdq = quantizeQdq(float, calib.ranges({ kind: 'minmax' }), {}, plan);
  tmp = await mkdtemp(join(tmpdir(), 'quantize-test-'));
});

afterAll(async () => {
  await calib?.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Own copy of an initializer's bytes (protobufjs gives a Buffer view into the whole file in Node). */
const bytesOf = (t: onnxProto.onnx.ITensorProto): ArrayBuffer => new Uint8Array(t.rawData!).buffer;

/** A decoded graph with its repeated fields filled (protobufjs always fills them when decoding). */
interface Node {
  opType: string;
  name: string;
  domain: string;
  input: string[];
  output: string[];
  attribute: onnxProto.onnx.IAttributeProto[];
}
interface Graph {
  node: Node[];
  initializer: (onnxProto.onnx.ITensorProto & { name: string; dims: number[] })[];
}
const graphOf = (bytes: Uint8Array): Graph => onnx.ModelProto.decode(bytes).graph as unknown as Graph;

const opsOf = (g: Graph): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const n of g.node) {
    const k = `${n.domain ? `${n.domain}:` : ''}${n.opType}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
};

describe('QDQ export structure', () => {
  it('plans every Conv followed by a Relu as int8 and leaves the heads’ last convs float', () => {
    const g = graphOf(float);
    const convs = g.node.filter((n) => n.opType === 'Conv').map((n) => n.name);
    expect(plan.convs.length).toBe(convs.length - 3);
    expect(convs.filter((c) => !plan.convs.includes(c)).sort()).toEqual(
      ['fgbg_logits/Conv', 'inner_logits/Conv', 'outer_logits/Conv'].sort(),
    );
    // Each MaxPool / Resize output takes its input's parameters (so onnxruntime can drop the pair).
    const byOut = new Map(g.node.map((n) => [n.output[0]!, n]));
    expect(plan.inherited.size).toBe(4); // depth 2: 2 MaxPool + 2 Resize
    for (const [t, from] of plan.inherited) {
      expect(['MaxPool', 'Resize']).toContain(byOut.get(t)!.opType);
      expect(byOut.get(t)!.input[0]).toBe(from);
    }
  });

  it('writes per-channel int8 weights (axis 0), int32 biases at input·weight scale and uint8 activations', () => {
    const g = graphOf(qdq);
    const init = new Map(g.initializer.map((t) => [t.name, t]));
    const producer = new Map(g.node.map((n) => [n.output[0]!, n]));
    const scalarF = (name: string): number => new DataView(bytesOf(init.get(name)!)).getFloat32(0, true);
    let checked = 0;
    for (const conv of g.node.filter((n) => n.opType === 'Conv')) {
      const dqs = conv.input.map((i) => producer.get(i));
      if (!plan.convs.includes(conv.name!)) {
        // Float head conv: float weights, dequantized input.
        expect(init.get(conv.input[1]!)!.dataType).toBe(DT.FLOAT);
        expect(dqs[0]!.opType).toBe('DequantizeLinear');
        continue;
      }
      expect(dqs.map((d) => d?.opType)).toEqual(['DequantizeLinear', 'DequantizeLinear', 'DequantizeLinear']);
      const [xdq, wdq, bdq] = dqs as Node[];
      const w = init.get(wdq.input[0]!)!;
      const wScale = init.get(wdq.input[1]!)!;
      const cout = Number(w.dims[0]);
      expect(w.dataType).toBe(DT.INT8);
      expect(wScale.dims.map(Number)).toEqual([cout]);
      expect(init.get(wdq.input[2]!)!.dataType).toBe(DT.INT8);
      expect(Number(wdq.attribute.find((a) => a.name === 'axis')?.i)).toBe(0);
      // Symmetric: zero points all 0, values within [-127, 127], and some channel reaches ±127.
      expect([...init.get(wdq.input[2]!)!.rawData!].every((v) => v === 0)).toBe(true);
      const wq = new Int8Array(bytesOf(w));
      expect(Math.max(...wq.map(Math.abs))).toBe(127);
      expect(Math.min(...wq)).toBeGreaterThanOrEqual(-127);
      const b = init.get(bdq.input[0]!)!;
      expect(b.dataType).toBe(DT.INT32);
      expect(Number(bdq.attribute.find((a) => a.name === 'axis')?.i)).toBe(0);
      // Bias scale = input scale · weight scale per channel (what QLinearConv needs), zero point 0.
      const xScale = scalarF(xdq.input[1]!);
      const ws = new Float32Array(bytesOf(wScale));
      const bs = new Float32Array(bytesOf(init.get(bdq.input[1]!)!));
      for (let c = 0; c < cout; c++) expect(bs[c]).toBeCloseTo(Math.fround(xScale * ws[c]!), 9);
      expect(init.get(xdq.input[2]!)!.dataType).toBe(DT.UINT8);
      // The Relu after it feeds a Q with zero point 0 (so onnxruntime drops the Relu).
      const relu = g.node.find((n) => n.input[0] === conv.output[0])!;
      expect(relu.opType).toBe('Relu');
      const q = g.node.find((n) => n.input[0] === relu.output[0])!;
      expect(q.opType).toBe('QuantizeLinear');
      expect(init.get(q.input[2]!)!.rawData![0]).toBe(0);
      checked++;
    }
    expect(checked).toBe(plan.convs.length);
  });

  it('onnxruntime fuses the QDQ graph into int8 kernels: QLinearConv per int8 Conv, QLinearConcat, uint8 MaxPool', async () => {
    const path = join(tmp, 'optimized.onnx');
    const s = await ort.InferenceSession.create(qdq, {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: path,
      executionProviders: ['cpu'],
    });
    await s.release();
    const ops = opsOf(graphOf(new Uint8Array(await readFile(path))));
    console.log(`optimized int8 graph: ${JSON.stringify(ops)}`);
    const qconv = Object.entries(ops)
      .filter(([k]) => k.endsWith('QLinearConv'))
      .reduce((a, [, v]) => a + v, 0);
    expect(qconv).toBe(plan.convs.length);
    expect(Object.entries(ops).filter(([k]) => k.endsWith('QLinearConcat'))[0]?.[1]).toBe(2);
    // Only the 3 float head convs remain as float convolutions; Q/DQ left: the input's Q and the heads' 3 DQs.
    const floatConvs = Object.entries(ops)
      .filter(([k]) => /(^|:)Conv$/.test(k))
      .reduce((a, [, v]) => a + v, 0);
    expect(floatConvs).toBe(3);
    expect(ops['QuantizeLinear']).toBe(1);
    expect(ops['DequantizeLinear']).toBe(3);
    expect(ops['Relu']).toBeUndefined();
  });

  it('answers close to the float model on a calibration-like tile', async () => {
    const run = async (bytes: Uint8Array): Promise<Float32Array[]> => {
      const s = await ort.InferenceSession.create(bytes);
      const r = await s.run({ input: new ort.Tensor('float32', tile(1), [1, SIZE, SIZE, 1]) });
      const out = s.outputNames.map((n) => r[n]!.data as Float32Array);
      await s.release();
      return out;
    };
    const [a, b] = [await run(float), await run(qdq)];
    a.forEach((fa, k) => {
      const fb = b[k]!;
      // Pearson correlation of the int8 and float outputs (random weights give tiny outputs, so absolute
      // bounds say little; a wrong scale, zero point, axis or layout decorrelates them).
      const n = fa.length;
      const ma = fa.reduce((x, v) => x + v, 0) / n;
      const mb = fb.reduce((x, v) => x + v, 0) / n;
      let sab = 0;
      let saa = 0;
      let sbb = 0;
      for (let i = 0; i < n; i++) {
        sab += (fa[i]! - ma) * (fb[i]! - mb);
        saa += (fa[i]! - ma) ** 2;
        sbb += (fb[i]! - mb) ** 2;
      }
      const r = sab / Math.sqrt(saa * sbb);
      console.log(`head ${k}: correlation int8 vs float ${r.toFixed(4)}`);
      expect(r).toBeGreaterThan(0.8);
    });
  });
});

describe('quantization parameters', () => {
  it('uint8Params keeps 0 exact and covers the range', () => {
    expect(uint8Params({ lo: 0, hi: 2.55 })).toEqual({ scale: Math.fround(0.01), zeroPoint: 0 });
    const p = uint8Params({ lo: -1, hi: 3 });
    expect(p.zeroPoint).toBe(64);
    expect(p.scale * (255 - p.zeroPoint)).toBeGreaterThanOrEqual(2.99);
    expect(uint8Params({ lo: 0, hi: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it('percentile ranges are inside the min/max ones; a missing range is refused', () => {
    const mm = calib.ranges({ kind: 'minmax' });
    const pc = calib.ranges({ kind: 'percentile', percentile: 99.9 });
    let narrower = 0;
    for (const [t, r] of mm) {
      expect(pc.get(t)!.hi).toBeLessThanOrEqual(r.hi);
      expect(pc.get(t)!.lo).toBeGreaterThanOrEqual(r.lo);
      if (pc.get(t)!.hi < r.hi) narrower++;
    }
    expect(narrower).toBeGreaterThan(0);
    const partial = new Map([...mm].slice(1));
    expect(() => quantizeQdq(float, partial, {}, plan)).toThrow(QuantizeError);
  });
});
