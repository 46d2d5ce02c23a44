#!/usr/bin/env bash
# Held-out check of the synthetic-then-real arm (issue 14's real + synthetic goal), chosen on the train split
# only: StarDist first trained on the synthetic images (half the budget), then on the real fit images (the
# other half), against the real arm in the same table: the fit part of train/ to train, its held-out 15 % to
# score, tissue-real layouts with sensor noise (synth's default), the shipped model's run folder. Seeds are
# added one at a time so a stopped run resumes where it was (done runs are skipped).
#   bash benchmarks/pretrain_heldout.sh [PYTHON_WITH_STARDIST] [MODEL_RUN_FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
model=${2:-benchmarks/results/generalist/dsb2018-fluo-1x-k3-s3}
.venv/bin/python -c "import sys; sys.path.insert(0, 'benchmarks'); from select_stardist import WORK, link_split; link_split(WORK)"
out=benchmarks/results/select_stardist/pretrain/$(basename "$model")
run() {
  .venv/bin/nucgan downstream --data runs/select_stardist/held_out --train-data runs/select_stardist/fit \
    --segmenter stardist --python "$py" --arms "$1" --seeds "$2" --layout tissue-real --sensor-noise \
    --model "$model" --out "$out"
}
for seeds in 0 0,1 0,1,2; do run synthetic-then-real "$seeds"; done
# the real arm does not depend on the model: validation_heldout.sh's runs have the same keys, so copied in
# they are found done (without them the three real runs train here, ~15 min)
cp -n benchmarks/results/select_stardist/validation/real/per_run/real_seed{0,1,2}.json "$out/per_run/" 2>/dev/null || true
run real,synthetic-then-real 0,1,2
