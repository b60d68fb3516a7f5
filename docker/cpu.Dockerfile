# syntax=docker/dockerfile:1.7
# cellkiosk CPU image: one image, the role is an argument (the chart passes `start --role=<role>`):
#   api (+ web UI), cpu-worker (pre/post-processing, ONNX Runtime inference fallback), autoscaler.
# Build from the repository root:  docker build -f docker/cpu.Dockerfile -t REGISTRY/cellkiosk:TAG .
# (docker/cpu.Dockerfile.dockerignore keeps node_modules, outputs and secrets out of the context.)

ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only; optional ones (tfjs-node, tfjs-node-gpu) belong to the GPU image.
RUN npm ci --omit=dev --omit=optional && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    # tsx compiles the TypeScript sources on start; its cache goes to /tmp (an emptyDir in the cluster,
    # since the root filesystem is read-only).
    TMPDIR=/tmp
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY api ./api
COPY web ./web
COPY workers ./workers
COPY constructs ./constructs
COPY infra ./infra
# The image's built-in `node` user (uid/gid 1000) matches the chart's runAsUser/runAsGroup.
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node", "bin/kiosk.mjs"]
CMD ["start", "--role=api"]
