#!/usr/bin/env bash
# Held-out check of `nucgan downstream --validation real` (issue 14's real + synthetic goal), chosen on
# the train split only: the real arm and real + synthetic validated on their own pairs (the published
# protocol) or on their real pairs only, tissue-real layouts with sensor noise (synth's default), StarDist,
# seeds added one at a time so a stopped run resumes where it was (done runs are skipped).
#   bash benchmarks/validation_heldout.sh [PYTHON_WITH_STARDIST]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
base=benchmarks/results/select_stardist/validation
.venv/bin/python -c "import sys; sys.path.insert(0, 'benchmarks'); from select_stardist import WORK, link_split; link_split(WORK)"
for seeds in 0 0,1 0,1,2; do
  for v in real own; do
    arms=real+synthetic; [ "$v" = real ] && arms=real,real+synthetic
    .venv/bin/nucgan downstream --data runs/select_stardist/held_out --train-data runs/select_stardist/fit \
      --segmenter stardist --python "$py" --arms "$arms" --seeds "$seeds" --layout tissue-real --sensor-noise \
      --model benchmarks/results/generalist/dsb2018-fluo-1x-k3 --validation "$v" --out "$base/$v"
  done
done
