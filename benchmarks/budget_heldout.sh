#!/usr/bin/env bash
# Held-out check of a longer StarDist budget for every arm (issue 14's real + synthetic goal): does the
# synthetic data pay once the real arm is nearer saturation? The real arm and real + synthetic (own
# validation, the published protocol) at STEPS training steps (default 2000, twice the fixed budget), the fit
# part of train/ to train, its held-out 15 % to score, tissue-real layouts with sensor noise (synth's
# default), the shipped model's run folder. Seeds are added one at a time so a stopped run resumes where it
# was (done runs are skipped); chosen on the train split only.
#   STEPS=2000 bash benchmarks/budget_heldout.sh [PYTHON_WITH_STARDIST] [MODEL_RUN_FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
model=${2:-benchmarks/results/generalist/dsb2018-fluo-1x-k3-s3}
steps=${STEPS:-2000}
.venv/bin/python -c "import sys; sys.path.insert(0, 'benchmarks'); from select_stardist import WORK, link_split; link_split(WORK)"
out=benchmarks/results/select_stardist/budget-$steps/$(basename "$model")
run() {
  .venv/bin/nucgan downstream --data runs/select_stardist/held_out --train-data runs/select_stardist/fit \
    --segmenter stardist --python "$py" --arms "$1" --seeds "$2" --layout tissue-real --sensor-noise \
    --steps "$steps" --model "$model" --out "$out"
}
run real+synthetic 0  # makes the folder a downstream one (the synthetic set and the first run)
# the real arm at the fixed budget (STEPS=1000, the segmenter's own config) has validation_heldout.sh's keys:
# copied in, those runs are found done (a run whose key differs is trained again, never reused)
if [ "$steps" = 1000 ]; then  # at another budget they would only be found stale and trained again
  cp -n benchmarks/results/select_stardist/validation/real/per_run/real_seed{0,1,2}.json "$out/per_run/" 2>/dev/null || true
fi
for seeds in 0 0,1 0,1,2; do run real,real+synthetic "$seeds"; done
