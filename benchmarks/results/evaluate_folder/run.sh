#!/bin/bash
# Folder evaluation of the shipped DSB models (each run scores painter and flat too). Resumable: a model
# whose metrics.json exists is skipped.
set -e
D=../shared/data/dsb2018-fluo
for m in dsb2018-3x-k7 dsb2018-1x-k3; do
  o=benchmarks/results/evaluate_folder/$m
  [ -f $o/metrics.json ] || python -m nucgan evaluate --model $m --data $D --max-images 24 --seeds 0,1,2 --out $o
done
