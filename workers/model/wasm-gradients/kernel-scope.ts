/**
 * Runs registered wasm kernels on `TensorInfo`s inside another kernel, so every intermediate stays in wasm
 * memory (no copy to JS) and is freed when the scope ends. Kernels composed this way use wasm's fast
 * (XNNPACK) Conv2D / DepthwiseConv2dNative and its native Transpose, Reverse, PadV2, Slice, Sum.
 */
import {
  getKernel,
  type KernelBackend,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

export class KernelScope {
  private readonly temps: TensorInfo[] = [];

  constructor(private readonly backend: KernelBackend) {}

  /** Runs kernel `name` of the 'wasm' backend; the result is freed by `dispose()` unless `keep()` is called. */
  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = getKernel(name, 'wasm');
    if (kernel === undefined)
      throw new Error(`wasm gradient kernels need wasm kernel '${name}', not registered`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out))
      throw new Error(`wasm kernel '${name}' returned ${out.length} outputs, expected one`);
    this.temps.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Zero padding, `paddings[d] = [before, after]`, all >= 0. */
  pad(x: TensorInfo, paddings: Array<[number, number]>): TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i])) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  /**
   * Pads (amount > 0) or crops (amount < 0) axes 1 and 2 of an NHWC tensor: `rows = [top, bottom]`,
   * `cols = [left, right]`. Used to line up a correlation's window exactly with the output it must produce.
   */
  padOrCrop(x: TensorInfo, rows: [number, number], cols: [number, number]): TensorInfo {
    const [, h, w] = x.shape as [number, number, number, number];
    const crop = (n: number): number => Math.max(0, -n);
    const cropped = this.slice(
      x,
      [0, crop(rows[0]), crop(cols[0]), 0],
      [x.shape[0]!, h - crop(rows[0]) - crop(rows[1]), w - crop(cols[0]) - crop(cols[1]), x.shape[3]!],
    );
    const grow = (n: number): number => Math.max(0, n);
    return this.pad(cropped, [
      [0, 0],
      [grow(rows[0]), grow(rows[1])],
      [grow(cols[0]), grow(cols[1])],
      [0, 0],
    ]);
  }

  /**
   * Inserts `sh - 1` zero rows and `sw - 1` zero columns between the pixels of an NHWC tensor
   * ([B, H, W, C] → [B, (H-1)·sh + 1, (W-1)·sw + 1, C]); identity for strides 1.
   */
  dilate(x: TensorInfo, sh: number, sw: number): TensorInfo {
    if (sh === 1 && sw === 1) return x;
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const six = this.reshape(x, [b, h, 1, w, 1, c]);
    const spread = this.pad(six, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    const flat = this.reshape(spread, [b, h * sh, w * sw, c]);
    return this.slice(flat, [0, 0, 0, 0], [b, (h - 1) * sh + 1, (w - 1) * sw + 1, c]);
  }

  owns(t: TensorInfo): boolean {
    return this.temps.includes(t);
  }

  /** Takes `out` out of the scope (it outlives `dispose()`); returns it. */
  keep(out: TensorInfo): TensorInfo {
    const i = this.temps.lastIndexOf(out);
    if (i >= 0) this.temps.splice(i, 1);
    return out;
  }

  /** Frees every intermediate not kept. Reshape outputs share data with their input (ref-counted). */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Runs `body` with a fresh scope; the returned tensor is kept, everything else freed (also on error). */
export function withScope(backend: object, body: (s: KernelScope) => TensorInfo): TensorInfo {
  // Kernel functions receive their backend typed as `{}`; ours always run on the wasm KernelBackend.
  const scope = new KernelScope(backend as KernelBackend);
  try {
    const out = body(scope);
    // An input returned unchanged must still come back as a new (ref-counted) output the engine can own.
    return scope.keep(scope.owns(out) ? out : scope.run('Identity', { x: out }));
  } finally {
    scope.dispose();
  }
}
