"""Generation and synthesis speed, and peak memory of an 8192 x 8192 image on the CPU.

    python benchmarks/synth.py                       # the shipped default model
    python benchmarks/synth.py --model dsb2018-3x-k7 --big 8192 --threads 2

Prints megapixels/s of `nucgan.generate` at 512 px, images/s of `nucgan synth` (512 px, density
150, layout + painting + writing), and for the big case the wall time and peak RSS of a separate
process that lays out and paints one --big x --big image (the issue's target: under 4 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

BIG = """
import json, resource, sys, time, torch
import nucgan
torch.set_num_threads({threads})
t = time.perf_counter()
labels = nucgan.place("ellipse", size=({big}, {big}), density=150, seed=0)
t_layout = time.perf_counter() - t
model = nucgan.zoo.load({model!r})
t = time.perf_counter()
image = nucgan.generate(model, labels, seed=0, precision={precision!r})
t_paint = time.perf_counter() - t
print(json.dumps({{"nuclei": int(labels.max()), "layout_s": t_layout, "paint_s": t_paint,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="zoo id, run or file [synth's default]")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5, help="timed 512 px images (the median is printed)")
    ap.add_argument("--big", type=int, default=8192, help="side of the big image (0: skip)")
    ap.add_argument("--precision", default="fp32", help="fp32 or bf16 (bfloat16 autocast)")
    args = ap.parse_args()
    import torch

    import nucgan
    from nucgan.synth import DEFAULT_MODEL, SynthPlan

    model_ref = args.model or DEFAULT_MODEL
    torch.set_num_threads(args.threads)
    from nucgan.devices import describe_machine

    print(f"machine: {describe_machine(args.threads)}", flush=True)  # figures compare on one machine only
    model = nucgan.zoo.load(model_ref)
    labels = nucgan.place("ellipse", size=(512, 512), density=150, seed=0)
    nucgan.generate(model, labels, seed=1, precision=args.precision)  # warm up at the timed size: oneDNN builds its kernels per shape
    times = []
    for seed in range(args.repeat):  # one 512 px image takes 0.1-0.3 s: a median of several is steadier
        t = time.perf_counter()
        nucgan.generate(model, labels, seed=seed, precision=args.precision)
        times.append(time.perf_counter() - t)
    dt = statistics.median(times)
    print(f"{model.name}: generate 512 x 512 in {dt:.3f} s (median of {args.repeat}, range {min(times):.3f}-{max(times):.3f})"
          f" = {0.262144 / dt:.2f} megapixels/s ({args.threads} threads, {args.precision},"
          f" NUCGAN_KEEP_FREED_MEMORY={os.environ.get('NUCGAN_KEEP_FREED_MEMORY', '1')})")
    with tempfile.TemporaryDirectory() as out:
        plan = SynthPlan(count=args.count, size=(512, 512), density=150.0, seed=0,
                         precision=None if args.precision == "fp32" else args.precision)
        t = time.perf_counter()
        nucgan.synthesise(model, plan, out)
        dt = time.perf_counter() - t
    print(f"synth: {args.count} pairs of 512 x 512 (density 150, {plan.sampler} sampler) in {dt:.1f} s = "
          f"{args.count / dt:.2f} images/s")
    print(f"this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.big:
        code = BIG.format(threads=args.threads, big=args.big, model=model_ref, precision=args.precision)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        mpx = args.big * args.big / 1e6
        print(f"{args.big} x {args.big} ({r['nuclei']} nuclei): layout {r['layout_s']:.1f} s, painting "
              f"{r['paint_s']:.1f} s ({mpx / r['paint_s']:.2f} megapixels/s), peak RSS {r['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
