#!/usr/bin/env bash
# The one prepared command for a GPU machine (one H100, ~15 device-minutes, PyTorch/ONNX/onnxruntime, no
# Node): trains the nuclear model with scripts/gpu/train_nuclear.py and leaves a model folder in
# $OUT/nuclear-gpu (8 files: model.onnx, model.json, weights.bin, card.json, state.json, metrics.jsonl,
# checkpoint.pt, train.log; the device tool returns at most 8 files of <= 16 MiB). See docs/training-gpu.md.
#
#   bash scripts/gpu/run-on-device.sh            # from the repository root on the device machine
#
# Settings (environment; defaults in brackets):
#   DATA      folder with train/ and val/ [.gpu-data/nuclei, made here by scripts/gpu/prepare-carry.sh]
#   MINUTES   wall-clock training budget; the cosine decay follows it [7]
#   FROM      tfjs model folder to fine-tune, '' to train from scratch [models/nuclear/1]
#   DIAMETER  target nucleus diameter in px [20]
#   BATCH [64]  CROP [128]  LR [1e-3]  WARMUP [300]  EMA [0.999]  WORKERS [cores - 1]  VERSION [2]
#   EXTRA     more train_nuclear.py arguments
# If the first attempt fails within its first 150 s (a CUDA/AMP/worker problem), it is retried once with
# --amp off --no-channels-last and 8 workers, in what is left of the budget.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/nuclear-gpu-out}
RES="$OUT/nuclear-gpu"
mkdir -p "$RES"
LOG="$RES/train.log"
export PYTHONUNBUFFERED=1
# One BLAS/OpenMP thread per process: the loader's worker processes are the CPU parallelism.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
DATA=${DATA:-.gpu-data/nuclei}
[ -d "$DATA/train" ] || DATA=../shared/data/nuclei
MINUTES=${MINUTES:-7}
FROM=${FROM-models/nuclear/1}
DIAMETER=${DIAMETER:-20}
BATCH=${BATCH:-64}
CROP=${CROP:-128}
LR=${LR:-1e-3}
WARMUP=${WARMUP:-300}
EMA=${EMA:-0.999}
CORES=$(nproc 2>/dev/null || echo 2)
WORKERS=${WORKERS:-$((CORES > 1 ? CORES - 1 : 1))}
VERSION=${VERSION:-2}
PY=${PYTHON:-python3}

{
  echo "run-on-device: $(date -u +%FT%TZ) data=$DATA minutes=$MINUTES from=${FROM:-scratch} diameter=$DIAMETER batch=$BATCH crop=$CROP lr=$LR warmup=$WARMUP ema=$EMA workers=$WORKERS"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || echo "no nvidia-smi"
  "$PY" -c 'import sys, numpy, torch; print("python", sys.version.split()[0], "numpy", numpy.__version__, "torch", torch.__version__, "cuda", torch.cuda.is_available())'
  "$PY" -c 'import onnxruntime as o; print("onnxruntime", o.__version__)' 2>&1 || true
} 2>&1 | tee "$LOG"
if [ ! -d "$DATA/train" ] || [ ! -d "$DATA/val" ]; then
  echo "run-on-device: no data at $DATA (train/, val/): run scripts/gpu/prepare-carry.sh on the developer machine and carry .gpu-data" | tee -a "$LOG"
  exit 2
fi

train() { # $1 = minutes, then extra arguments
  local minutes=$1
  shift
  "$PY" scripts/gpu/train_nuclear.py train --data "$DATA" --out "$RES" --minutes "$minutes" \
    ${FROM:+--from "$FROM"} --diameter "$DIAMETER" --batch "$BATCH" --crop "$CROP" --lr "$LR" \
    --warmup "$WARMUP" --ema "$EMA" --workers "$WORKERS" --version "$VERSION" \
    --val-every-s 90 --save-every-s 120 --log-every 100 ${EXTRA:-} "$@" 2>&1 | tee -a "$LOG"
  return "${PIPESTATUS[0]}"
}

start=$(date +%s)
train "$MINUTES"
rc=$?
elapsed=$(($(date +%s) - start))
if [ $rc -ne 0 ] && [ $elapsed -lt 150 ]; then
  left=$(awk -v m="$MINUTES" -v e="$elapsed" 'BEGIN { l = m - e / 60 - 0.5; printf "%.2f", (l < 1 ? 1 : l) }')
  echo "run-on-device: first attempt failed (exit $rc after ${elapsed}s); retrying with --amp off --no-channels-last, 8 workers, $left minutes" | tee -a "$LOG"
  WORKERS=8
  rm -f "$RES/metrics.jsonl" "$RES/checkpoint.pt"
  train "$left" --amp off --no-channels-last
  rc=$?
fi

# Summary: throughput, the loss curve (about 15 points), the validation history.
"$PY" - "$RES" <<'EOF' 2>&1 | tee -a "$LOG"
import json, os, sys
res = sys.argv[1]
path = os.path.join(res, 'metrics.jsonl')
if not os.path.exists(path):
    sys.exit('summary: no metrics.jsonl')
recs = [json.loads(l) for l in open(path) if l.strip()]
steps = [r for r in recs if 'loss' in r]
vals = [r for r in recs if 'val_loss' in r]
if steps:
    last = steps[-1]
    print(f"summary: {last['step']} steps, {last['samples']} samples in {last['seconds']} s = "
          f"{last['samples'] / max(1e-9, last['seconds']):.0f} samples/s overall")
    every = max(1, len(steps) // 15)
    print('loss curve (step: loss inner outer fg | samples/s, data wait):')
    for r in steps[::every] + ([last] if (len(steps) - 1) % every else []):
        print(f"  {r['step']:>6}: {r['loss']:.4f} {r['inner']:.4f} {r['outer']:.4f} {r['fg']:.4f} | "
              f"{r['samplesPerSecond']:.0f}/s, wait {100 * r['dataWaitFraction']:.0f}%")
for r in vals:
    print(f"  val @ step {r['step']}: loss {r['val_loss']} fg IoU {r['val_fg_iou']}")
EOF
ls -la "$RES" | tee -a "$LOG"
exit $rc
