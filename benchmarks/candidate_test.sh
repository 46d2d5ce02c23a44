#!/usr/bin/env bash
# Issue 14: a model that clears the shipped one on the held-out train part (select_stardist.py's rule) is
# reported on the test folder with the published table's protocol: all arms, StarDist, 3 seeds (added one
# at a time, resumable), tissue-real layouts, sensor noise; then the realism AUC of --like test images.
# The painter and flat runs of the shipped model's table are copied in first: they do not depend on the
# model, and a run whose key matches is found done rather than run again. Reports only; chooses nothing.
#   bash benchmarks/candidate_test.sh MODEL_DIR [PYTHON_WITH_STARDIST]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: candidate_test.sh MODEL_DIR [PYTHON]}
py=${2:-.venv/bin/python}
name=$(basename "$model")
out=benchmarks/results/layouts/downstream_stardist_tissue-real-sensor-noise_$name
shipped=benchmarks/results/layouts/downstream_stardist_tissue-real-sensor-noise_dsb2018-fluo-1x-k3
mkdir -p "$out/per_run"
for f in "$shipped"/per_run/{painter,flat}_seed*.json; do
  [ -e "$out/per_run/$(basename "$f")" ] || cp "$f" "$out/per_run/"
done
for seeds in 0 0,1 0,1,2; do
  .venv/bin/nucgan downstream --data ../shared/data/dsb2018-fluo --segmenter stardist --python "$py" \
    --arms synthetic,real+synthetic,few-real+synthetic,painter,flat --seeds "$seeds" --layout tissue-real \
    --sensor-noise --model "$model" --out "$out"
done
.venv/bin/python benchmarks/style.py --model "$model" --realism --realism-seeds 0,1,2 --sensor-noise on
