/**
 * `MaxPoolGrad` for the wasm backend, replacing wasm's own, which returns wrong values in
 * tfjs-backend-wasm 4.22: checked by hand here, it is right for a 4x4 input but off by up to 1.17 (values
 * ~N(0,1)) for 8x8 and 8x10 inputs with 2x2/2 pooling, so every layer below a MaxPooling2D would train on
 * corrupted gradients.
 *
 * Shapes: input x [B, H, W, C], dy [B, OH, OW, C] float32 → dx [B, H, W, C] float32. Each dy value goes to
 * the position of its window's maximum in x (the first one in row-major order on ties, like tfjs's cpu
 * backend); padding never wins. One JS pass over the wasm heap (no copy out of wasm memory).
 */
import {
  backend_util,
  MaxPoolGrad,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** The parts of BackendWasm this kernel uses. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

const maxPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  if (input.shape.length !== 4 || input.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(
      `wasm MaxPoolGrad: input must be float32 [B, H, W, C]; got ${input.dtype} [${input.shape}]`,
    );
  }
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  if (dy.shape.some((d, i) => d !== info.outShape[i])) {
    throw new Error(
      `wasm MaxPoolGrad: dy has shape [${dy.shape}] but pooling [${input.shape}] gives [${info.outShape}]`,
    );
  }
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const wasm = backend as WasmHeapBackend;
  const dx = wasm.makeOutput([b, h, w, c], 'float32');
  const out = wasm.typedArrayFromHeap(dx);
  out.fill(0);
  const xs = wasm.typedArrayFromHeap(input);
  const g = wasm.typedArrayFromHeap(dy);
  let gi = 0;
  for (let n = 0; n < b; n++) {
    for (let y = 0; y < oh; y++) {
      const y0 = y * sh - top;
      for (let x = 0; x < ow; x++) {
        const x0 = x * sw - left;
        for (let k = 0; k < c; k++, gi++) {
          let best = -Infinity;
          let at = -1;
          for (let i = Math.max(0, y0); i < Math.min(h, y0 + fh); i++) {
            for (let j = Math.max(0, x0); j < Math.min(w, x0 + fw); j++) {
              const idx = ((n * h + i) * w + j) * c + k;
              if (xs[idx] > best) {
                best = xs[idx];
                at = idx;
              }
            }
          }
          if (at >= 0) out[at] += g[gi];
        }
      }
    }
  }
  return dx;
};

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad,
};
