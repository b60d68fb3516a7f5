/**
 * The two targets of docker/gpu.Dockerfile and the GPUs each can drive, by CUDA compute capability. Data, checked
 * against the Dockerfile by constructs/gpu-images.test.ts and written out in docs/deploy.md ("GPU types the
 * images drive"). Established from the build settings and NVIDIA's and ONNX Runtime's documentation, not on
 * the GPUs themselves.
 */

/** One image target: what it is built on and the compute capabilities its GPU code runs on. */
export interface GpuImage {
  /** The Dockerfile target (`docker build --target`). */
  readonly target: 'inference' | 'training';
  /** The roles it is for. */
  readonly roles: string;
  /** The CUDA base image tag of the target's stages (the Dockerfile's default). */
  readonly base: string;
  /** What computes on the GPU. */
  readonly stack: string;
  /**
   * Compute capabilities with machine code (SASS) in the GPU libraries; a GPU runs it when its major version
   * is the same and its minor at least as high (NVIDIA's binary compatibility: sm_80 code runs on 8.6 and 8.9).
   */
  readonly sass: readonly number[];
  /** PTX the driver compiles for newer GPUs, when the libraries around it support them. @default - none */
  readonly newestWithPtx?: number;
  /** Why these: where the build settings come from. */
  readonly basis: string;
}

export const GPU_IMAGES: Readonly<Record<'inference' | 'training', GpuImage>> = {
  inference: {
    target: 'inference',
    roles: 'gpu-worker (inference; its training runs on the CPU)',
    base: 'nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04',
    stack: 'CUDA 12.6, cuDNN 9, onnxruntime-node 1.30 CUDA execution provider',
    // ONNX Runtime's Linux CUDA packages (the NuGet package onnxruntime-node's installer downloads) are
    // built with CMAKE_CUDA_ARCHITECTURES=75;80;90 (tools/ci_build/github/linux/build_cuda_c_api_package.sh);
    // the 1.19+ CUDA 12 builds need CUDA 12.x and cuDNN 9.x (the CUDA EP's requirements table), and cuDNN 9
    // for CUDA 12 supports 5.0-9.0. No sm_70 code: a V100 (7.0) cannot run its kernels.
    sass: [7.5, 8.0, 9.0],
    basis:
      "ONNX Runtime's CUDA package build (CMAKE_CUDA_ARCHITECTURES=75;80;90) and its CUDA 12 / cuDNN 9 requirement",
  },
  training: {
    target: 'training',
    roles: 'trainer (training on the GPU; also serves inference through tfjs-node-gpu)',
    base: 'nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04',
    stack: 'CUDA 11.2, cuDNN 8.1, libtensorflow 2.9.1 (tfjs-node-gpu 4.22)',
    // TensorFlow 2.9's release builds: kernels for 3.5-7.5 and PTX for 8.0, which the driver compiles for
    // Ampere (8.0, 8.6). CUDA 11.2's libraries and cuDNN 8.1 predate Ada (8.9) and Hopper (9.0): their
    // support came with CUDA 11.8 / cuDNN 8.6.
    sass: [3.5, 5.0, 6.0, 7.0, 7.5],
    newestWithPtx: 8.6,
    basis: "TensorFlow 2.9's release build settings and NVIDIA's CUDA 11.2 / cuDNN 8.1 release notes",
  },
};

/** Whether `image`'s GPU code runs on a GPU of compute capability `cc`. */
export function imageDrives(image: GpuImage, cc: number): boolean {
  const major = Math.floor(cc);
  const byCode = image.sass.some((s) => Math.floor(s) === major && s <= cc + 1e-9);
  const byPtx =
    image.newestWithPtx !== undefined &&
    cc <= image.newestWithPtx + 1e-9 &&
    cc >= Math.max(...image.sass) - 1e-9;
  return byCode || byPtx;
}
