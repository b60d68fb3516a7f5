# syntax=docker/dockerfile:1.7
# cellkiosk GPU image, two targets (docs/deploy.md, "GPU types the images drive"):
#   inference (default, the last stage): the gpu-worker role on a CUDA 12.6 + cuDNN 9 runtime (Ubuntu 22.04).
#     Inference runs through onnxruntime-node 1.30's CUDA execution provider, built against CUDA 12.x and
#     cuDNN 9.x; its libraries are not on npm, so its install script downloads them from NuGet
#     (Microsoft.ML.OnnxRuntime.Gpu.Linux) at image-build time. The worker's ONNX runner takes CUDA when that
#     library is there (KIOSK_ORT_PROVIDERS, workers/model/ort-providers.ts). Host driver >= 525.60.13 (CUDA 12
#     minor-version compatibility). Training in this image (the GPU worker's `train` queue) runs on
#     @tensorflow/tfjs-node, i.e. on the CPU.
#   training (`--target training`): the trainer role on @tensorflow/tfjs-node-gpu 4.22, whose libtensorflow
#     2.9.1 is built against CUDA 11.2 and cuDNN 8.1, so its base is NVIDIA's CUDA 11.2 + cuDNN 8 runtime
#     (Ubuntu 20.04); host driver >= 450.80. Its GPUs are fewer (no Ada, no Hopper: docs/deploy.md).
# Build from the repository root:
#   docker build -f docker/gpu.Dockerfile -t REGISTRY/cellkiosk-gpu:TAG .
#   docker build -f docker/gpu.Dockerfile --target training -t REGISTRY/cellkiosk-gpu-train:TAG .
# Build arguments:
#   CUDA_IMAGE, TRAIN_CUDA_IMAGE, NODE_IMAGE  the bases of the two targets and the image Node 20 is copied
#                 from; defaults are the official ones.
#   GPU_LIBS      1 (default): the GPU libraries that are not on npm must install, or the build fails:
#                 onnxruntime's CUDA provider (inference) and libtensorflow 2.9.1 GPU or CPU from
#                 storage.googleapis.com (tfjs-node-gpu, tfjs-node). 0: leave them out. For the offline deploy
#                 rehearsal (test/deploy/podman.ts), which builds this file on a plain Debian base with no
#                 CUDA and no internet: its layout and start-up are what it checks; inference runs on the CPU.
#   TFJS_NODE_GPU the old name of GPU_LIBS: 0 means GPU_LIBS=0.
# The GPU images have no web/: their roles never load the web UI (cli/commands/start.ts imports web/build
# only for the local kiosk).

ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04
ARG TRAIN_CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
ARG NODE_IMAGE=node:20.19-bullseye-slim

FROM ${NODE_IMAGE} AS node

# ---- training: tfjs-node-gpu on CUDA 11.2 ----------------------------------------------------------------
# Install in the CUDA image itself so native addons link against the same glibc (2.31) they run with.
FROM ${TRAIN_CUDA_IMAGE} AS train-deps
ARG GPU_LIBS=1
ARG TFJS_NODE_GPU=
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY docker/gpu-npm-install.sh /tmp/gpu-npm-install.sh
# onnxruntime-node's CUDA provider is for CUDA 12: skipped here; this image serves ONNX on the CPU.
RUN --mount=type=cache,id=cellkiosk-npm,target=/root/.npm \
    sh /tmp/gpu-npm-install.sh training "${TFJS_NODE_GPU:-$GPU_LIBS}"

FROM ${TRAIN_CUDA_IMAGE} AS training
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    TMPDIR=/tmp \
    KIOSK_MODEL_CACHE=/tmp/kiosk-model-cache \
    # Let TensorFlow grow GPU memory on demand instead of grabbing all of it at start.
    TF_FORCE_GPU_ALLOW_GROWTH=true
RUN (getent group 1000 >/dev/null || groupadd --gid 1000 kiosk) \
 && (getent passwd 1000 >/dev/null \
     || useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin kiosk)
WORKDIR /app
COPY --from=train-deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY workers ./workers
COPY constructs ./constructs
COPY infra ./infra
COPY core ./core
COPY api ./api
COPY models ./models
USER 1000:1000
ENTRYPOINT ["node", "bin/kiosk.mjs"]
CMD ["start", "--role=trainer"]

# ---- inference (default): onnxruntime-node's CUDA provider on CUDA 12 ------------------------------------
FROM ${CUDA_IMAGE} AS infer-deps
ARG GPU_LIBS=1
ARG TFJS_NODE_GPU=
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY docker/gpu-npm-install.sh /tmp/gpu-npm-install.sh
# With GPU_LIBS=1 the script runs onnxruntime-node's installer with ONNXRUNTIME_NODE_INSTALL=cuda12 (the
# CUDA provider from NuGet) and checks that libonnxruntime_providers_cuda.so is there.
RUN --mount=type=cache,id=cellkiosk-npm,target=/root/.npm \
    sh /tmp/gpu-npm-install.sh inference "${TFJS_NODE_GPU:-$GPU_LIBS}"

FROM ${CUDA_IMAGE} AS inference
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    # tsx's cache and bucket models copied before loading go to /tmp (an emptyDir in the cluster; the
    # root filesystem is read-only) unless the chart names another writable folder.
    TMPDIR=/tmp \
    KIOSK_MODEL_CACHE=/tmp/kiosk-model-cache
# uid/gid 1000 as the chart's runAsUser/runAsGroup (a base that has them already keeps its own).
RUN (getent group 1000 >/dev/null || groupadd --gid 1000 kiosk) \
 && (getent passwd 1000 >/dev/null \
     || useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin kiosk)
WORKDIR /app
COPY --from=infer-deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY workers ./workers
COPY constructs ./constructs
COPY infra ./infra
COPY core ./core
COPY api ./api
# The shipped model (KIOSK_MODELS_DIR defaults to <repo>/models): the gpu-worker runs nuclear 1 and the
# trainer starts from it without anything copied into the bucket first.
COPY models ./models
USER 1000:1000
ENTRYPOINT ["node", "bin/kiosk.mjs"]
CMD ["start", "--role=gpu-worker"]
