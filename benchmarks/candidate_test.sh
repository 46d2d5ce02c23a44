#!/usr/bin/env bash
# Issue 14: a model that clears the shipped one on the held-out train part (select_stardist.py's rule) is
# reported on the test folder with the published table's protocol: all arms, StarDist, 3 seeds (added one
# at a time, resumable), tissue-real layouts, sensor noise; then the realism AUC of --like test images.
# The model's own arms run first, seed by seed; the painter and flat floors (on the same masks) after them;
# last the real arm joins, so results.json (what `nucgan zoo publish --downstream` reads) holds all six arms.
# Reports only; chooses nothing.
#   bash benchmarks/candidate_test.sh MODEL_DIR [PYTHON_WITH_STARDIST]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: candidate_test.sh MODEL_DIR [PYTHON]}
py=${2:-.venv/bin/python}
name=$(basename "$model")
out=benchmarks/results/layouts/downstream_stardist_tissue-real-sensor-noise_$name
run() {
  .venv/bin/nucgan downstream --data ../shared/data/dsb2018-fluo --segmenter stardist --python "$py" \
    --arms "$1" --seeds "$2" --layout tissue-real --sensor-noise --model "$model" --out "$out"
}
for seeds in 0 0,1 0,1,2; do run synthetic,real+synthetic,few-real+synthetic "$seeds"; done
run synthetic,real+synthetic,few-real+synthetic,painter,flat 0,1,2
# the real arm does not depend on the model: the published table's runs have the same keys, so copied in they
# are found done (without them the three real runs train here, ~20 min)
mkdir -p "$out/per_run"
cp -n benchmarks/results/downstream_stardist_dsb2018-fluo-1x-k3/per_run/real_seed{0,1,2}.json "$out/per_run/" 2>/dev/null || true
run real,synthetic,real+synthetic,few-real+synthetic,painter,flat 0,1,2
.venv/bin/python benchmarks/style.py --model "$model" --realism --realism-seeds 0,1,2 --sensor-noise on
