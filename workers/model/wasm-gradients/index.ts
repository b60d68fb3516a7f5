/**
 * Gradient kernels the tfjs wasm backend (4.22) lacks, registered for 'wasm' so training runs there.
 * Each kernel family lives in its own file and is checked against the cpu backend in its test.
 */
import { getKernel, registerKernel, type KernelConfig } from '@tensorflow/tfjs-core';

/** Every kernel this folder provides for the 'wasm' backend. */
export const wasmGradientKernels: readonly KernelConfig[] = [];

/**
 * Registers each kernel in `wasmGradientKernels` for 'wasm' unless one is already registered under that name
 * (a later tfjs-backend-wasm may ship its own). Safe to call more than once.
 */
export function registerWasmGradients(): void {
  for (const k of wasmGradientKernels) {
    if (getKernel(k.kernelName, 'wasm') === undefined) registerKernel(k);
  }
}
