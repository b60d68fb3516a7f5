# syntax=docker/dockerfile:1.7
# cellkiosk GPU image: the gpu-worker (inference) and trainer roles, on @tensorflow/tfjs-node-gpu 4.22.
# tfjs-node-gpu 4.22 loads libtensorflow 2.9.1, which is built against CUDA 11.2 and cuDNN 8.1, so the base
# is NVIDIA's CUDA 11.2 + cuDNN 8 runtime (Ubuntu 20.04). The host needs an NVIDIA driver >= 450.80
# (CUDA 11 minor-version compatibility); GKE installs one via gpu_driver_installation_config, the EKS
# NVIDIA AMI ships one. If NVIDIA retires the 11.2.2 tag, any 11.x cudnn8 runtime tag works the same way.
# Build from the repository root:  docker build -f docker/gpu.Dockerfile -t REGISTRY/cellkiosk-gpu:TAG .
# Build arguments:
#   CUDA_IMAGE, NODE_IMAGE  the CUDA base and the image Node 20 is copied from; defaults are the official ones.
#   TFJS_NODE_GPU           1 (default): tfjs-node-gpu must install (its install script downloads
#                           libtensorflow 2.9.1 GPU from storage.googleapis.com) or the build fails.
#                           0: leave it out. For the offline deploy rehearsal (test/deploy/podman.ts), which
#                           builds this image on a plain Debian base with no CUDA and no internet: its layout
#                           and start-up are what it checks; inference falls back to the CPU backends.
# The GPU image has no web/: its roles never load the web UI (cli/commands/start.ts imports web/build
# only for the local kiosk).

ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
ARG NODE_IMAGE=node:20.19-bullseye-slim

FROM ${NODE_IMAGE} AS node

# Install in the CUDA image itself so native addons link against the same glibc (2.31) they run with.
FROM ${CUDA_IMAGE} AS deps
ARG TFJS_NODE_GPU=1
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
# The compilers are tfjs-node-gpu's fallback (node-pre-gyp builds its addon when no prebuilt one fits).
RUN case "$TFJS_NODE_GPU" in 0|1) ;; *) echo "TFJS_NODE_GPU must be 0 or 1, got '$TFJS_NODE_GPU'" >&2; exit 1;; esac \
 && ln -sf /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && if [ "$TFJS_NODE_GPU" = 1 ]; then \
      apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
      && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node's install script would download its CUDA 12 provider from NuGet; this image's inference
# runs on tfjs-node-gpu (CUDA 11.2), so it is skipped: npm 11 by package.json's allowScripts
# ("onnxruntime-node": false), this image's npm 10 by this variable.
ENV ONNXRUNTIME_NODE_INSTALL=skip
# Production + optional dependencies (esbuild's platform binary, which tsx needs, is an optional one),
# the lockfile's versions, less what this image does not use (removed from this stage's package.json only,
# so neither downloaded nor run): tfjs-node (CPU; its install downloads libtensorflow), the Terraform
# providers (@cdktf/provider-aws, -google, ~700 MB; synth runs where the lab deploys from, no role imports
# them), with TFJS_NODE_GPU=0 tfjs-node-gpu too; then onnxruntime-node's macOS and Windows binaries
# (~220 MB). `npm ci --dry-run` fails the build when package-lock.json is out of step with package.json.
# npm's download cache is a build cache mount, shared by both images, kept out of the layers.
RUN --mount=type=cache,id=cellkiosk-npm,target=/root/.npm \
    npm ci --dry-run --omit=dev --ignore-scripts \
 && npm pkg delete optionalDependencies.@tensorflow/tfjs-node \
      dependencies.@cdktf/provider-aws dependencies.@cdktf/provider-google \
 && if [ "$TFJS_NODE_GPU" = 0 ]; then npm pkg delete optionalDependencies.@tensorflow/tfjs-node-gpu; fi \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32 \
 && npm rebuild \
 && if [ "$TFJS_NODE_GPU" = 1 ]; then \
      ls node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v*/tfjs_binding.node \
         node_modules/@tensorflow/tfjs-node-gpu/deps/lib/libtensorflow.so.2; \
    fi \
 && node -e "require('esbuild').transformSync('let n: number = 1', { loader: 'ts' })"

FROM ${CUDA_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    # tsx's cache and bucket models copied before loading go to /tmp (an emptyDir in the cluster; the
    # root filesystem is read-only) unless the chart names another writable folder.
    TMPDIR=/tmp \
    KIOSK_MODEL_CACHE=/tmp/kiosk-model-cache \
    # Let TensorFlow grow GPU memory on demand instead of grabbing all of it at start.
    TF_FORCE_GPU_ALLOW_GROWTH=true
# uid/gid 1000 as the chart's runAsUser/runAsGroup (a base that has them already keeps its own).
RUN (getent group 1000 >/dev/null || groupadd --gid 1000 kiosk) \
 && (getent passwd 1000 >/dev/null \
     || useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin kiosk)
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
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
