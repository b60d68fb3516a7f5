"""
The shipped nuclear model (models/nuclear/<newest>/model.onnx) on ONNX Runtime's CUDA provider, for a GPU
machine that has Python's onnxruntime with CUDA (the Node binding's CUDA libraries cannot be installed
offline: its install script fetches them from NuGet). Prints what the machine offers for the GPU paths
(driver, CUDA and cuDNN libraries, ONNX Runtime providers) and, for each provider present (CUDA, then CPU on
every core), the forward time per 512x512 tile (batch 1 and 8) and per 1-megapixel image (1024x1024 in one
call). Random inputs: timing only.

    python3 bench/onnx-gpu.py [--runs 20]
"""

import argparse
import glob
import os
import re
import subprocess
import time

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=20)
args = ap.parse_args()


def sh(cmd: str) -> str:
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    return (r.stdout + r.stderr).strip()


print("gpu:", sh("nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader"))
libs = sorted(
    {
        os.path.basename(p)
        for d in ["/usr/local/cuda*/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/local/nvidia/lib64"]
        + glob.glob("/opt/**/nvidia/*/lib", recursive=True)
        for p in glob.glob(f"{d}/lib*.so.*")
        if re.match(r"lib(cudart|cublas|cudnn)\.so\.\d+$", os.path.basename(p))
    }
)
print("CUDA/cuDNN libraries found:", ", ".join(libs) or "none")
print("node:", sh("node --version 2>&1 || echo none"))

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:
    print(f"no onnxruntime in python3 here ({e}); nothing to time")
    raise SystemExit(0)

print("onnxruntime", ort.__version__, "providers:", ort.get_available_providers())
versions = sorted(
    (int(v) for v in os.listdir("models/nuclear") if v.isdigit() and os.path.exists(f"models/nuclear/{v}/model.onnx"))
)
model = f"models/nuclear/{versions[-1]}/model.onnx"
for prov in [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]:
    so = ort.SessionOptions()
    if prov == "CPUExecutionProvider":
        so.intra_op_num_threads = os.cpu_count() or 1
    try:
        s = ort.InferenceSession(model, so, providers=[prov])
    except Exception as e:  # a provider listed but not loadable (missing CUDA libraries)
        print(f"{prov}: cannot create a session: {e}")
        continue
    used = s.get_providers()[0]
    if used != prov:
        print(f"{prov}: session fell back to {used}; skipped")
        continue
    name = s.get_inputs()[0].name
    for n, h, w, label in [(1, 512, 512, "512x512 tile"), (8, 512, 512, "8 tiles of 512x512"), (1, 1024, 1024, "1 MP image")]:
        x = np.random.rand(n, h, w, 1).astype(np.float32)
        for _ in range(3):
            s.run(None, {name: x})
        t = time.perf_counter()
        for _ in range(args.runs):
            s.run(None, {name: x})
        ms = (time.perf_counter() - t) * 1000 / args.runs
        print(f"{prov} ({model}): {label}: {ms:.2f} ms per call, {ms / n:.2f} ms per {'tile' if n > 1 else 'input'}, {args.runs} runs")
