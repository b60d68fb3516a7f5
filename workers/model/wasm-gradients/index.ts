/**
 * Gradient kernels for the tfjs wasm backend (4.22), registered by `initTfjs` so training runs on wasm.
 *
 * Found by running a U-Net training step (Conv2D same/strided + BatchNormalization + ReLU + MaxPooling2D +
 * AveragePooling2D + UpSampling2D nearest/bilinear + Conv2DTranspose + Concatenate + Add + depthwise and
 * separable convs + 1x1 heads; MSE + softmax and sigmoid cross-entropy; Adam) and reading the
 * "Kernel 'X' not registered for backend 'wasm'" errors. Missing: Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropInput, DepthwiseConv2dNativeBackpropFilter. Present in wasm already:
 * AvgPoolGrad, ResizeNearestNeighborGrad, ResizeBilinearGrad (checked against cpu in
 * wasm-native-grads.test.ts; ResizeBilinearGrad returns H and W swapped for non-square inputs, so only
 * square ones are supported); batch-norm, ReLU, sigmoid and softmax gradients are built from ordinary ops
 * by tfjs-core. Replaced: wasm's own Conv2DBackpropInput (~10x slower than its Conv2D, see
 * conv2d-backprop-input.ts) and its MaxPoolGrad (wrong values for inputs
 * larger than 4x4, checked by hand; see max-pool-grad.ts).
 * Beware the reference: tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad is WRONG for batch > 1 (it steps
 * through dy with the input image's batch stride), so UpSampling2D networks train incorrectly on 'cpu'
 * with batches > 1; wasm's is right (checked by hand in wasm-native-grads.test.ts).
 * Dilated convolutions have no gradient in tfjs-core on any backend ("dilation rates greater than 1 are not
 * yet supported in gradients"), so networks meant for training must not use them.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import {
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
} from './depthwise-conv2d-backprop.js';

/** Kernels the wasm backend lacks; registered only where none is registered under the name. */
export const missingWasmKernels: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
];

/** Kernels that replace ones the wasm backend ships: a ~10x slower one and a wrong one. */
export const replacedWasmKernels: readonly KernelConfig[] = [conv2DBackpropInputConfig, maxPoolGradConfig];

let registered = false;

/**
 * Registers `missingWasmKernels` (unless a later tfjs-backend-wasm registered its own) and replaces the
 * kernels in `replacedWasmKernels`. Safe to call more than once, and before or after the wasm backend starts.
 */
export function registerWasmGradients(): void {
  if (registered) return;
  registered = true;
  for (const k of missingWasmKernels) {
    if (getKernel(k.kernelName, 'wasm') === undefined) registerKernel(k);
  }
  for (const k of replacedWasmKernels) {
    if (getKernel(k.kernelName, 'wasm') !== undefined) unregisterKernel(k.kernelName, 'wasm');
    registerKernel(k);
  }
}
