"""Layout speed: 512 x 512 with 150 nuclei, 8192 x 8192 with ~40,000, and how fast a crowd is refused.

    python benchmarks/layout_speed.py            # the new default sampler (tissue); --sampler gan for the old

Prints the median time of a 512 x 512 layout with 150 nuclei (target: under 50 ms), the wall time
and peak RSS of a separate process laying out 8192 x 8192 at density 150, 38,400 nuclei (targets:
under 15 s and 4 GB), and the time until a density the canvas cannot hold is refused (before any
shape is drawn). Layout only: painting is benchmarks/synth.py's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

BIG = """
import json, resource, time
import numpy as np
import nucgan
sampler = nucgan.create_sampler({sampler!r})
t, c = time.perf_counter(), time.process_time()
labels = nucgan.place(sampler, size=({big}, {big}), density=150, seed=0)
dt, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({{"nuclei": int(labels.max()), "seconds": dt, "cpu_seconds": cpu,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sampler", default="tissue")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--big", type=int, default=8192, help="side of the big layout (0: skip)")
    args = ap.parse_args()
    import numpy as np

    import nucgan
    from nucgan.errors import InputError

    sampler = nucgan.create_sampler(args.sampler)
    nucgan.place(sampler, size=512, nuclei=150, seed=0)  # warm up imports and caches
    times, cpu = [], []
    for seed in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        nucgan.place(sampler, size=512, nuclei=150, seed=seed)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(f"{args.sampler}: 512 x 512, 150 nuclei: median {1000 * np.median(times):.1f} ms "
          f"({1000 * np.median(cpu):.1f} ms of CPU), max {1000 * max(times):.1f} ms over {args.repeats} layouts")
    for size, kwargs in ((8192, {"density": 1e6}), (8192, {"nuclei": 3_000_000}), (512, {"nuclei": 20_000})):
        t = time.perf_counter()
        try:
            nucgan.place(sampler, size=size, seed=0, **kwargs)
            print(f"{size} px {kwargs}: NOT refused")
        except InputError as exc:
            print(f"{size} px {kwargs}: refused in {1000 * (time.perf_counter() - t):.1f} ms: {exc}")
    if args.big:
        code = BIG.format(sampler=args.sampler, big=args.big)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{args.sampler}: {args.big} x {args.big} at density 150 ({r['nuclei']} nuclei): {r['seconds']:.1f} s, "
              f"({r['cpu_seconds']:.1f} s of CPU; the wall time grows on a busy machine), "
              f"peak RSS {r['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
