#!/usr/bin/env bash
# The test-folder table of `nucgan downstream --validation real` (issue 14's real + synthetic goal): the
# real + synthetic arm (few-real+synthetic already meets its goal), tissue-real layouts with sensor noise
# (synth's default), StarDist, 3 seeds, seeds added one at a time (resumable). The real arm is the published
# table's (its runs and key do not change with --validation), so it is not rerun here. Run after
# benchmarks/validation_heldout.sh (or, for another model, benchmarks/candidate_test.sh): the choice is
# made on the train split; this only reports.
#   bash benchmarks/validation_test.sh [MODEL_DIR] [PYTHON_WITH_STARDIST]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-benchmarks/results/generalist/dsb2018-fluo-1x-k3}
py=${2:-.venv/bin/python}
name=$(basename "$model")
for seeds in 0 0,1 0,1,2; do
  .venv/bin/nucgan downstream --data ../shared/data/dsb2018-fluo --segmenter stardist --python "$py" \
    --arms real+synthetic --seeds "$seeds" --layout tissue-real --sensor-noise \
    --model "$model" --validation real \
    --out "benchmarks/results/layouts/downstream_stardist_tissue-real-sensor-noise-validation-real_$name"
done
