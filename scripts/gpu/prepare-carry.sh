#!/usr/bin/env bash
# On the developer machine, before a device run (docs/training-gpu.md): the device tool sends the repository
# and nothing beside it, so ../shared/data/nuclei must travel as a carried, git-ignored folder.
#   1. copies ../shared/data/nuclei/{train,val}/*.png to .gpu-data/nuclei/ (ignored through .git/info/exclude);
#   2. smoke-tests the trainer on it on the CPU when /usr/bin/python3 has torch (2 steps, tiny crops);
#   3. prints what would travel (tracked + untracked-not-ignored files + .gpu-data) against the 64 MiB limit.
# Then: run(command="bash scripts/gpu/run-on-device.sh", carry=[".gpu-data"], timeout_s=600).
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=${1:-../shared/data/nuclei}
DEST=.gpu-data/nuclei
for split in train val; do
  mkdir -p "$DEST/$split"
  cp -u "$SRC/$split/"*.png "$DEST/$split/"
done
exclude="$(git rev-parse --git-path info/exclude)"
grep -qxF '/.gpu-data/' "$exclude" 2>/dev/null || echo '/.gpu-data/' >>"$exclude"
echo "prepare-carry: $(ls "$DEST/train" | grep -c '\.image\.png$') train and $(ls "$DEST/val" | grep -c '\.image\.png$') val images in $DEST"

if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  smoke=$(mktemp -d)
  nice -n 10 /usr/bin/python3 scripts/gpu/train_nuclear.py train --data "$DEST" --out "$smoke" --limit 4 \
    --val-limit 1 --max-steps 2 --batch 2 --crop 32 --workers 0 --log-every 1 --from models/nuclear/1 \
    --diameter 20 >"$smoke.log" 2>&1 || { cat "$smoke.log"; echo "prepare-carry: smoke run FAILED" >&2; exit 1; }
  echo "prepare-carry: CPU smoke run ok ($(grep -c '^' "$smoke/metrics.jsonl") metric lines, $(stat -c %s "$smoke/model.onnx") byte model.onnx)"
  rm -rf "$smoke" "$smoke.log"
else
  echo "prepare-carry: /usr/bin/python3 has no torch; CPU smoke run skipped (apt-get install python3-torch)"
fi

tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
data=$(du -sb .gpu-data | cut -f1)
total=$((tree + data))
limit=$((64 * 1024 * 1024))
printf 'prepare-carry: would travel %.1f MiB (tree %.1f + .gpu-data %.1f) of the 64 MiB limit\n' \
  "$(echo "$total / 1048576" | bc -l)" "$(echo "$tree / 1048576" | bc -l)" "$(echo "$data / 1048576" | bc -l)"
if [ "$total" -gt "$limit" ]; then
  echo "prepare-carry: OVER the limit: the call would be refused. Largest travelling files:" >&2
  git ls-files -co --exclude-standard -z | du -b --files0-from=- 2>/dev/null | sort -n | tail -6 >&2
  echo "Untracked checkpoints (e.g. train-runs/) can be left behind for the call by listing them in $exclude," >&2
  echo "then removing that line again; tracked files always travel." >&2
  exit 3
fi
