# syntax=docker/dockerfile:1.7
# cellkiosk GPU image: the gpu-worker (inference) and trainer roles, on @tensorflow/tfjs-node-gpu 4.22.
# tfjs-node-gpu 4.22 loads libtensorflow 2.9.1, which is built against CUDA 11.2 and cuDNN 8.1, so the base
# is NVIDIA's CUDA 11.2 + cuDNN 8 runtime (Ubuntu 20.04). The host needs an NVIDIA driver >= 450.80
# (CUDA 11 minor-version compatibility); GKE installs one via gpu_driver_installation_config, the EKS
# NVIDIA AMI ships one. If NVIDIA retires the 11.2.2 tag, any 11.x cudnn8 runtime tag works the same way.
# Build from the repository root:  docker build -f docker/gpu.Dockerfile -t REGISTRY/cellkiosk-gpu:TAG .

ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
ARG NODE_IMAGE=node:20.19-bullseye-slim

FROM ${NODE_IMAGE} AS node

# Install in the CUDA image itself so native addons link against the same glibc (2.31) they run with.
FROM ${CUDA_IMAGE} AS deps
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production + optional dependencies: tfjs-node-gpu's install step downloads libtensorflow 2.9.1 (GPU).
# tfjs-node (CPU) is optional too and not needed here; drop it to save ~300 MB.
RUN npm ci --omit=dev \
 && rm -rf node_modules/@tensorflow/tfjs-node \
 && node -e "require('@tensorflow/tfjs-node-gpu/package.json')" \
 && npm cache clean --force

FROM ${CUDA_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    TMPDIR=/tmp \
    KIOSK_TF_RUNTIME=tfjs-node-gpu \
    # Let TensorFlow grow GPU memory on demand instead of grabbing all of it at start.
    TF_FORCE_GPU_ALLOW_GROWTH=true
RUN groupadd --gid 1000 kiosk && useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin kiosk
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY workers ./workers
COPY constructs ./constructs
COPY infra ./infra
COPY api ./api
USER 1000:1000
ENTRYPOINT ["node", "bin/kiosk.mjs"]
CMD ["start", "--role=gpu-worker"]
