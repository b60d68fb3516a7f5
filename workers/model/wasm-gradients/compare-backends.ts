/**
 * Test support: runs the same computation on the pure-JS 'cpu' backend (the reference) and on 'wasm' (with
 * this folder's kernels registered) from the same seeded inputs, and measures how far apart they are.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initTfjs } from '../runtime.js';

/** Deterministic N(0,1)-ish values (sum of uniforms, mulberry32), so a failure reproduces exactly. */
export function seededNormal(size: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = uniform() + uniform() + uniform() + uniform() - 2;
  return out;
}

export interface Comparison {
  /** Largest |wasm − cpu| over all outputs. */
  readonly maxAbsDiff: number;
  /** Largest |cpu| over all outputs (the scale the difference is judged against). */
  readonly maxAbsRef: number;
  /** maxAbsDiff / max(1, maxAbsRef). */
  readonly relDiff: number;
  readonly shapes: number[][];
}

/**
 * Runs `compute` under 'cpu', then under 'wasm' (inputs re-created from the same arrays on each backend by
 * `compute` itself), and compares every output tensor. Leaves the wasm backend active.
 */
export async function compareBackends(compute: () => tf.Tensor | tf.Tensor[]): Promise<Comparison> {
  const run = async (prefer: 'cpu' | 'wasm'): Promise<{ data: Float32Array[]; shapes: number[][] }> => {
    await initTfjs({ prefer });
    const outs = tf.tidy(() => {
      const r = compute();
      return Array.isArray(r) ? r : [r];
    });
    const data = await Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
    const shapes = outs.map((t) => t.shape);
    tf.dispose(outs);
    return { data, shapes };
  };
  const ref = await run('cpu');
  const got = await run('wasm');
  if (JSON.stringify(ref.shapes) !== JSON.stringify(got.shapes)) {
    throw new Error(`shapes differ: cpu ${JSON.stringify(ref.shapes)}, wasm ${JSON.stringify(got.shapes)}`);
  }
  let maxAbsDiff = 0;
  let maxAbsRef = 0;
  ref.data.forEach((r, k) => {
    const g = got.data[k]!;
    for (let i = 0; i < r.length; i++) {
      const d = Math.abs(g[i]! - r[i]!);
      maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
      maxAbsRef = Math.max(maxAbsRef, Math.abs(r[i]!));
    }
  });
  return { maxAbsDiff, maxAbsRef, relDiff: maxAbsDiff / Math.max(1, maxAbsRef), shapes: ref.shapes };
}

/** A float32 tensor of seeded values with the given shape. */
export function seededTensor<R extends tf.Rank>(shape: number[], seed: number): tf.Tensor<R> {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(seededNormal(size, seed), shape, 'float32') as unknown as tf.Tensor<R>;
}
