#!/usr/bin/env bash
# Issue 14: more training-seed draws of the shipped recipe and of sk, trained two side by side at 1 thread each,
# exported float16, then measured by held-out StarDist (3 seeds). Resumable: a finished training or StarDist run
# is skipped, an interrupted one continues. Summary: python benchmarks/recipe_draws.py <selection files>.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PAIRS=${PAIRS:-"dsb2018-fluo-1x-k3-s2,dsb2018-fluo-1x-k3-sk-s1 dsb2018-fluo-1x-k3-sk-s2,dsb2018-fluo-1x-k3-s3"}

train() {
  while pgrep -f "generalist.py $1( |\$)" >/dev/null; do sleep 60; done  # started by hand: let it finish
  if [[ $'\n'"$("$PY" benchmarks/generalist.py --list)" != *$'\n'"$1: step 4000,"* ]]; then  # not grep -q: pipefail
    "$PY" benchmarks/generalist.py "$1" --threads 1
  fi
  "$PY" benchmarks/generalist.py "$1" --export
}

for pair in $PAIRS; do
  IFS=, read -r a b <<<"$pair"
  train "$a" & pa=$!
  train "$b" & pb=$!
  wait "$pa"; wait "$pb"
  "$PY" benchmarks/select_stardist.py --python "$PY" --seeds 0,1,2 --no-baselines --layout tissue-real \
    --sensor-noise on --out benchmarks/results/select_stardist/ablations \
    --candidates "benchmarks/results/generalist/$a,benchmarks/results/generalist/$b"
done
