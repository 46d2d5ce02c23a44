#!/usr/bin/env bash
# Issue 14, --ema ablation: the paired control of a weight-averaged run whose raw weights have no twin run
# (seed 0: the shipped v1 was trained by older code, so its losses differ in the 3rd digit). Exports the run's
# last-step weights (checkpoint G) as <name>-raw, then measures them as the averages were measured: held-out
# StarDist, 3 seeds, tissue-real layouts, sensor noise, and realism over classifier seeds 0-2. Resumable.
#   bash benchmarks/ema_raw_control.sh [RECIPE ...]   (default: dsb2018-fluo-1x-k3-ema)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
for name in "${@:-dsb2018-fluo-1x-k3-ema}"; do
  [ -f "benchmarks/results/generalist/$name-raw/generator.safetensors" ] || "$PY" benchmarks/generalist.py "$name" --export --raw
  "$PY" benchmarks/select_stardist.py --python "$PY" --seeds 0,1,2 --no-baselines --layout tissue-real \
    --sensor-noise on --out benchmarks/results/select_stardist/ablations --candidates "benchmarks/results/generalist/$name-raw"
  "$PY" benchmarks/style.py --model "benchmarks/results/generalist/$name-raw" --held-out --max-images 61 --realism \
    --realism-seeds 0,1,2 --sensor-noise on
done
