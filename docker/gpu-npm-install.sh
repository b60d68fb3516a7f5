#!/bin/sh
# The node_modules of docker/gpu.Dockerfile's two targets, run in /app of its deps stages:
#   sh gpu-npm-install.sh inference|training GPU_LIBS
# Production + optional dependencies (esbuild's platform binary, which tsx needs, is an optional one), the
# lockfile's versions, less what the target does not use (removed from the stage's package.json only, so
# neither downloaded nor run): the Terraform providers (@cdktf/provider-aws, -google, ~700 MB; synth runs
# where the lab deploys from, no role imports them); inference: tfjs-node-gpu (CUDA 11.2, this target is
# CUDA 12); training: tfjs-node (the CPU build; tfjs-node-gpu has the same API); with GPU_LIBS=0 both
# TensorFlow packages (their install scripts download libtensorflow from storage.googleapis.com). Then
# onnxruntime-node's macOS and Windows binaries go (~220 MB). `npm ci --dry-run` fails the build when
# package-lock.json is out of step with package.json. Install scripts run through `npm rebuild` except
# onnxruntime-node's, which this script runs itself with the setting it needs (npm 11 skips it by
# package.json's allowScripts; npm 10, in Node 20, by ONNXRUNTIME_NODE_INSTALL=skip).
set -eu
target=$1
gpu_libs=$2
case "$target" in inference|training) ;; *) echo "target must be inference or training, got '$target'" >&2; exit 1;; esac
case "$gpu_libs" in 0|1) ;; *) echo "GPU_LIBS must be 0 or 1, got '$gpu_libs'" >&2; exit 1;; esac
ln -sf /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
if [ "$gpu_libs" = 1 ]; then
  # ca-certificates for the downloads; the compilers are tfjs-node(-gpu)'s fallback (node-pre-gyp builds
  # its addon when no prebuilt one fits).
  apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 make g++
  rm -rf /var/lib/apt/lists/*
fi
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --dry-run --omit=dev --ignore-scripts
npm pkg delete dependencies.@cdktf/provider-aws dependencies.@cdktf/provider-google
if [ "$target" = inference ]; then
  npm pkg delete optionalDependencies.@tensorflow/tfjs-node-gpu
else
  npm pkg delete optionalDependencies.@tensorflow/tfjs-node
fi
if [ "$gpu_libs" = 0 ]; then
  npm pkg delete optionalDependencies.@tensorflow/tfjs-node optionalDependencies.@tensorflow/tfjs-node-gpu
fi
npm install --omit=dev --ignore-scripts --no-audit --no-fund
rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32
npm rebuild
ort=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
if [ "$target" = inference ] && [ "$gpu_libs" = 1 ]; then
  (cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install)
  ls "$ort/libonnxruntime_providers_cuda.so" "$ort/libonnxruntime_providers_shared.so"
  ls node_modules/@tensorflow/tfjs-node/lib/napi-v*/tfjs_binding.node
fi
if [ "$target" = training ] && [ "$gpu_libs" = 1 ]; then
  ls node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v*/tfjs_binding.node \
     node_modules/@tensorflow/tfjs-node-gpu/deps/lib/libtensorflow.so.2
fi
node -e "require('esbuild').transformSync('let n: number = 1', { loader: 'ts' })"
