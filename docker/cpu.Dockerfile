# syntax=docker/dockerfile:1.7
# cellkiosk CPU image: one image, the role is an argument (the chart passes `start --role=<role>`):
#   api (+ web UI), cpu-worker (pre/post-processing, ONNX Runtime inference fallback), autoscaler.
# Build from the repository root:  docker build -f docker/cpu.Dockerfile -t REGISTRY/cellkiosk:TAG .
# (docker/cpu.Dockerfile.dockerignore keeps node_modules, outputs and secrets out of the context.)
# Build argument NODE_IMAGE: the Node 20 base. The default is the official image; the deploy rehearsal
# passes a local Debian one (test/deploy/podman.ts), since it builds offline.
# The build needs only the npm registry: no install step downloads anything from elsewhere.

ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node's install script would download its CUDA provider from NuGet (CPU image: unused). npm 11
# skips it by package.json's allowScripts ("onnxruntime-node": false); this image's npm 10 reads this variable.
ENV ONNXRUNTIME_NODE_INSTALL=skip
# Production dependencies, optional ones included: esbuild's platform binary (@esbuild/linux-x64 here) is
# an optional dependency, needed by tsx at run time and by the web build below; without it esbuild's
# postinstall fetches it outside the lockfile (a second npm install, else a download from
# registry.npmjs.org). Left out (from this stage's package.json only; the image's own copy is the
# repository's), so they are neither downloaded nor unpacked nor run:
#   - the tfjs-node packages (optional): the GPU image's; their install scripts download libtensorflow;
#   - the Terraform providers (@cdktf/provider-aws, -google, ~700 MB): `kiosk init` / `npm run synth` run
#     where the lab deploys from; no role imports them.
# `npm ci --dry-run` first fails the build when package-lock.json is out of step with package.json, as
# `npm ci` would; `npm install` then installs the lockfile's versions of what is left (the same tree as
# `npm ci` followed by `npm prune`, in a third of the time). onnxruntime-node's macOS and Windows binaries
# (~220 MB) go too. npm's download cache is a build cache mount, shared by both images, kept out of the layers.
RUN --mount=type=cache,id=cellkiosk-npm,target=/root/.npm \
    npm ci --dry-run --omit=dev --ignore-scripts \
 && npm pkg delete optionalDependencies.@tensorflow/tfjs-node optionalDependencies.@tensorflow/tfjs-node-gpu \
      dependencies.@cdktf/provider-aws dependencies.@cdktf/provider-google \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32 \
 && npm rebuild \
 && node -e "require('esbuild').transformSync('let n: number = 1', { loader: 'ts' })"

# The web UI, bundled with esbuild (web/build.ts) into web/dist, which the API serves at `/`.
FROM deps AS web
COPY tsconfig.json ./
COPY web ./web
COPY workers ./workers
RUN npm run build:web && test -s web/dist/app.js && test -s web/dist/index.html

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    # tsx compiles the TypeScript sources on start; its cache goes to /tmp (an emptyDir in the cluster,
    # since the root filesystem is read-only). Bucket models are copied to KIOSK_MODEL_CACHE before
    # loading: also under /tmp unless the chart names another writable folder.
    TMPDIR=/tmp \
    KIOSK_MODEL_CACHE=/tmp/kiosk-model-cache
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY core ./core
COPY api ./api
COPY web ./web
COPY --from=web /app/web/dist ./web/dist
COPY workers ./workers
COPY constructs ./constructs
COPY infra ./infra
# The shipped model: core/config.ts's KIOSK_MODELS_DIR defaults to <repo>/models, so /app/models/nuclear/1
# is a built-in model of a fresh cluster, with nothing to copy into the bucket first.
COPY models ./models
# The image's built-in `node` user (uid/gid 1000) matches the chart's runAsUser/runAsGroup.
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node", "bin/kiosk.mjs"]
CMD ["start", "--role=api"]
