"""Freed tensor memory is kept for the next tensor (glibc), and the opt-out leaves the allocator alone."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

#: touch and free a 64 MiB tensor 40 times; report the average page faults per allocation
PROBE = """
import json, resource, torch
from nucgan.memory import keep_freed_memory
applied = keep_freed_memory()
again = keep_freed_memory()
torch.ones(16 << 20)  # 64 MiB, freed at once: the first allocation's faults are not counted
rounds = 40
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(rounds):
    a = torch.ones(16 << 20)
    del a
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / rounds
print(json.dumps({"applied": applied, "again": again, "faults": faults}))
"""

glibc_linux = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                 reason="mallopt is glibc's")


def probe(**env: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env={**os.environ, "NUCGAN_KEEP_FREED_MEMORY": "1", **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@glibc_linux
def test_a_freed_tensor_s_pages_serve_the_next_one() -> None:
    kept, system = probe(), probe(NUCGAN_KEEP_FREED_MEMORY="0")
    assert kept["applied"] is True and kept["again"] is True  # idempotent: the second call reports the same
    assert system["applied"] is False and system["again"] is False
    # 64 MiB is 16,384 pages of 4 KiB: glibc's default maps them afresh on every allocation
    if system["faults"] < 8000:
        pytest.skip(f"this kernel faults {system['faults']:.0f} pages per 64 MiB (huge pages?): nothing to compare")
    # the kept heap reuses most of them (glibc's alignment makes some requests grow the heap a little)
    assert kept["faults"] < system["faults"] / 4


def test_the_opt_out_is_respected_in_this_process(monkeypatch) -> None:
    from nucgan import memory

    monkeypatch.setattr(memory, "_applied", None)
    monkeypatch.setenv(memory.ENV, "off")
    assert memory.keep_freed_memory() is False
    monkeypatch.setattr(memory, "_applied", None)  # leave the next caller to decide afresh
