#!/bin/bash
# Repeat a 2-process CPU torchrun training N times (default 30) and print how many passed, with the
# stderr tail of each failure: the check behind issue 16's "torchrun must not be flaky".
#     bash benchmarks/torchrun_repeat.sh [N]      (run it beside other CPU work to test under load)
set -u
N=${1:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=$ROOT/tests/data/dsb2018
WORK=$(mktemp -d)
pass=0
for i in $(seq 1 "$N"); do
  if OMP_NUM_THREADS=1 timeout 300 python -m torch.distributed.run --nproc_per_node 2 --standalone \
      -m nucgan train --image "$D/image.tif" --labels "$D/labels.tif" --region 0:96,0:96 --tile 32 --stride 32 \
      --randomize 2 -g unet --filters 4 --levels 2 --kernel 3 -d patchgan --disc-arg filters=4 --disc-arg n_layers=1 \
      --batch 2 --steps 3 --device cpu --threads 1 --quiet -o "$WORK/run$i" > "$WORK/log$i" 2>&1; then
    pass=$((pass + 1))
  else
    echo "run $i failed:"; tail -5 "$WORK/log$i"
  fi
  rm -rf "$WORK/run$i"
done
echo "$pass of $N two-process torchrun trainings passed (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
rm -rf "$WORK"
